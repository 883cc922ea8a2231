"""What a finished (or interrupted) training run left in its work dir: its
learning curve, its best validation mIoU and the checkpoint to use."""
import glob
import json
import os
import os.path as osp
import shutil
from typing import Callable, List, Optional, Tuple

from ..utils.checkpoint import last_checkpoint, resumable_checkpoint
from .executor import StepFailed


def miou_curve(work_dir: str) -> List[Tuple[int, float]]:
    """The learning curve of a training work dir: ``(iteration, mIoU)``
    (a fraction) of every validation logged, resumed runs included, in
    order of iteration."""
    points = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'mIoU' in record:
                    points[int(record['step'])] = float(record['mIoU']) / 100
    if not points:
        raise StepFailed(f'no validation mIoU was logged in {work_dir}')
    return sorted(points.items())


def best_miou(work_dir: str) -> float:
    """Best validation mIoU (a fraction) logged in a training work dir."""
    return max(miou for _, miou in miou_curve(work_dir))


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The best-mIoU checkpoint of a run, else its last one."""
    best = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')))
    return best[-1] if best else last_checkpoint(work_dir)


def resume_or_set_aside(work_dir: str, echo: Callable[[str], None]) -> bool:
    """Whether a training run goes on in ``work_dir`` with ``--resume``.

    A run with a checkpoint to continue from (see
    :func:`~mmseg_trf.utils.resumable_checkpoint`) resumes. A run that left
    files but none to continue from (stopped before its first checkpoint,
    or while MMEngine replaced its only one) is moved to
    ``<work_dir>.interrupted<n>``, kept for inspection, so that the fresh
    run's learning curve is its own.

    Args:
        work_dir (str): The run's work dir.
        echo (callable): Says where an interrupted run was moved.

    Returns:
        bool: Whether to pass ``--resume``.
    """
    if resumable_checkpoint(work_dir):
        return True
    if osp.isdir(work_dir) and os.listdir(work_dir):
        number = 1
        while osp.exists(f'{work_dir}.interrupted{number}'):
            number += 1
        aside = f'{work_dir}.interrupted{number}'
        os.rename(work_dir, aside)
        echo(f'[benchmark] {work_dir} has no checkpoint to resume from '
             f'(it was stopped); moved to {aside}, starting afresh')
    return False


def copy_run(source_dir: str, work_dir: str) -> None:
    """Copy a finished training run into ``work_dir`` so that a resumed run
    there continues it (same weights, optimiser state and iteration count)
    and leaves ``source_dir`` untouched.

    MMEngine records absolute paths of the run's own files: the
    ``last_checkpoint`` marker and, in the checkpoint's runtime info, the
    best and last checkpoints (the best-checkpoint hook deletes the old
    best when it saves a new one). They are pointed at the copies. The
    copy is made beside ``work_dir`` and renamed into place when complete,
    so a crash leaves either no copy or a whole one.

    Args:
        source_dir (str): The finished run's work dir.
        work_dir (str): Where the continued run will live (must not exist).
    """
    import torch
    last = last_checkpoint(source_dir)
    if last is None:
        raise StepFailed(f'{source_dir} has no checkpoint to continue from')
    source_dir, work_dir = osp.abspath(source_dir), osp.abspath(work_dir)
    partial = work_dir + '.partial'
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(
        source_dir, partial, ignore=shutil.ignore_patterns('.mmseg_trf.lock'))

    def moved(path, into=partial):
        return osp.join(into, osp.relpath(osp.abspath(path), source_dir))

    checkpoint = torch.load(
        moved(last), map_location='cpu', weights_only=False)
    info = checkpoint['message_hub']['runtime_info']
    for key in ('best_ckpt', 'last_ckpt'):
        if key in info:
            info[key] = moved(info[key], work_dir)
    torch.save(checkpoint, moved(last))
    with open(osp.join(partial, 'last_checkpoint'), 'w') as f:
        f.write(moved(last, work_dir))
    os.rename(partial, work_dir)


__all__ = [
    'miou_curve', 'best_miou', 'latest_checkpoint', 'last_checkpoint',
    'resume_or_set_aside', 'copy_run'
]

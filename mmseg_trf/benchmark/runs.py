"""What a finished (or interrupted) training run left in its work dir: its
learning curve, its best validation mIoU and the checkpoint to use."""
import glob
import json
import os.path as osp
from typing import List, Optional, Tuple

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
    if best:
        return best[-1]
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            return f.read().strip()
    return None


__all__ = ['miou_curve', 'best_miou', 'latest_checkpoint']

"""Checkpoint loading that works with torch >= 2.6 and MMEngine 0.10.7.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which
refuses the checkpoints MMEngine's own runner writes: they carry the message
hub's ``HistoryBuffer`` objects and numpy arrays (``Unsupported global:
mmengine.logging.history_buffer.HistoryBuffer``). MMEngine 0.10.7 calls
``torch.load`` without the argument, so ``load_from``, ``--resume``,
``tools/test.py`` and ``init_model`` all fail on them.

The choice made here: a checkpoint the user explicitly named (the config's
``load_from``, the checkpoint given to ``tools/test.py``, the run resumed by
``--resume``, a source checkpoint given to ``tools/score_sources.py``) is
*trusted* and loaded with ``weights_only=False``, exactly what MMEngine did
before torch 2.6. Every other file keeps torch's safe default, so nothing the
user did not ask for is unpickled with full power. The loader is installed
in MMEngine only when a checkpoint is first trusted (the tools do it for
the files their command line names), not by importing the package.
Allow-listing the
runner's globals instead would mean allowing ``builtins.getattr`` (numpy and
the history buffers pickle method references), a real loosening for every
file. Plain state dicts load either way.
"""
import glob
import os.path as osp
import pickle
import re
import zipfile
from typing import Optional, Set

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from ..fileio import atomic_write_text

_TRUSTED: Set[str] = set()


def trust_checkpoint(path: Optional[str]) -> Optional[str]:
    """Mark a local checkpoint the user asked to load as trusted.

    Args:
        path (str, optional): A local path; URLs and ``None`` are ignored.

    Returns:
        str | None: ``path`` unchanged.
    """
    if path and '://' not in path:
        _install_loader()
        _TRUSTED.add(osp.realpath(osp.expanduser(path)))
    return path


def trust_resumed_checkpoint(cfg) -> None:
    """Trust the checkpoint a ``--resume`` run will load.

    That is ``cfg.load_from`` when given, else the latest checkpoint the
    runner finds in ``cfg.work_dir`` (MMEngine's own rule), its marker
    repaired by :func:`resumable_checkpoint` first.

    Args:
        cfg (mmengine.Config): The run's config.
    """
    trust_checkpoint(cfg.get('load_from'))
    if cfg.get('resume') and not cfg.get('load_from'):
        resumed = resumable_checkpoint(cfg.work_dir)
        if resumed is None and last_checkpoint(cfg.work_dir):
            raise FileNotFoundError(
                f'{cfg.work_dir} was stopped while MMEngine replaced its only '
                'checkpoint (it deletes the old one first): no checkpoint is '
                'left to resume. Move the work dir aside and train without '
                '--resume; max_keep_ckpts >= 2 keeps one to resume from.')
        trust_checkpoint(resumed)


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a run saved last (MMEngine's ``last_checkpoint``
    marker: the one ``--resume`` continues from), or None; unlike MMEngine's
    ``find_latest_checkpoint`` it logs nothing when there is none."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        return f.read().strip()


def resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from in ``work_dir``, or None.

    MMEngine's ``CheckpointHook`` deletes the oldest kept checkpoint
    *before* it writes the new one, so a run stopped in between leaves its
    ``last_checkpoint`` marker naming a deleted file, and every later
    ``--resume`` fails. Such a marker (or a missing one) is pointed at the
    newest whole ``iter_*.pth`` (or ``epoch_*.pth``) left; with none left
    (``max_keep_ckpts=1``) the run cannot be continued.

    Args:
        work_dir (str): A training run's work dir.

    Returns:
        str | None: The checkpoint the marker now names, or None.
    """
    named = last_checkpoint(work_dir)
    if named and _is_whole_checkpoint(named):
        return named
    left = {}
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', osp.basename(path))
        if match:
            left[int(match.group(1))] = path
    for _, path in sorted(left.items(), reverse=True):
        if _is_whole_checkpoint(path):
            atomic_write_text(osp.join(work_dir, 'last_checkpoint'), path)
            return path
    return None


def _is_whole_checkpoint(path: str) -> bool:
    """Whether ``path`` is a complete ``torch.save`` archive (a file cut
    off while being written lacks the zip's closing directory)."""
    return osp.isfile(path) and zipfile.is_zipfile(path)


def is_trusted(path: str) -> bool:
    """bool: Whether ``path`` was marked with :func:`trust_checkpoint`."""
    return osp.realpath(osp.expanduser(path)) in _TRUSTED


def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint, with full unpickling only if trusted.

    Registered as MMEngine's loader for local paths, so the runner's
    ``load_from``/``resume`` and ``mmengine.runner.load_checkpoint`` use it.

    Args:
        filename (str): Local path.
        map_location: As for ``torch.load``.

    Returns:
        dict: The checkpoint (or plain state dict).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    trusted = is_trusted(filename)
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=not trusted)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as err:
        reason = ' '.join(str(err).split())
        if not trusted and 'Unsupported global' in reason:
            raise pickle.UnpicklingError(
                f'{filename} holds more than weights and was not named by '
                'the user, so torch refused it (weights_only=True). If you '
                'trust it, pass it as the checkpoint on the command line or '
                f'call mmseg_trf.utils.trust_checkpoint({filename!r}) first. '
                f'({reason[:300]})') from err
        with open(filename, 'rb') as f:
            head = f.read(16)
        raise ValueError(
            f'{filename} is not a PyTorch checkpoint '
            f'({osp.getsize(filename)} bytes, starting {head!r}): '
            f'{type(err).__name__}: {reason[:200]}') from err


def _install_loader() -> None:
    """Make :func:`load_local_checkpoint` MMEngine's loader of local paths."""
    if CheckpointLoader._schemes.get('') is not load_local_checkpoint:
        CheckpointLoader.register_scheme(
            prefixes='', loader=load_local_checkpoint, force=True)


__all__ = [
    'trust_checkpoint', 'trust_resumed_checkpoint', 'last_checkpoint',
    'resumable_checkpoint', 'is_trusted', 'load_local_checkpoint'
]

"""The config of a ``tools/train.py`` or ``tools/test.py`` run."""
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config


def load_run_config(path: str, launcher: str, cfg_options: Optional[dict],
                    work_dir: Optional[str]) -> Config:
    """A config with the command line applied, as MMSeg's tools do.

    ``--cfg-options`` are merged; the work dir is the command line's, else
    the config's, else ``./work_dirs/<config name>``. Under a launcher
    without GPUs, DDP is wrapped without devices (MMEngine would pin it to
    GPU ``LOCAL_RANK``).

    Args:
        path (str): Config file.
        launcher (str): ``--launcher``.
        cfg_options (dict, optional): ``--cfg-options``.
        work_dir (str, optional): ``--work-dir``.

    Returns:
        Config: The config.
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    if (launcher != 'none' and not torch.cuda.is_available()
            and 'model_wrapper_cfg' not in cfg):
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False)
    return cfg


__all__ = ['load_run_config']

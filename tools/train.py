"""Train a segmentor with MMEngine's runner, MMSeg's CLI and mmseg-trf's
components registered.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import logging
import os

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmseg_trf  # noqa: F401  registers the package's components
from mmseg_trf.apis import enable_weighting
from mmseg_trf.maps import MAP_METRICS
from mmseg_trf.utils import (KeyValueAction, check_checkpoint_path,
                             check_data_paths, finalize_distributed,
                             hold_work_dir, init_distributed, load_run_config,
                             trust_resumed_checkpoint)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='resume from the latest checkpoint in the work dir, or from '
        'load_from when it is set')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='override settings of the config, key=value (a.b=1, '
        'a=[1,2], a="(1,2)")')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--trf-weighting',
        choices=MAP_METRICS,
        help='transferability-weighted finetuning with this metric\'s '
        'weight map (adds TransferabilityHook and the weighted loss, and '
        'makes the train pipeline carry pixel coordinates)')
    parser.add_argument(
        '--trf-source-dataset',
        help='config of the source model\'s training data (OTCE weighting)')
    parser.add_argument(
        '--trf-options',
        nargs='+',
        action=KeyValueAction,
        help='further TransferabilityHook arguments, key=value '
        '(strength=0.5, control=shuffled, interval=500, ...), and '
        'loss_normalize=weights for the weighted loss')
    # torch.distributed.run passes --local-rank (older launchers
    # --local_rank); MMEngine reads LOCAL_RANK from the environment.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args) -> Config:
    """The config with the command line applied, as MMSeg's train.py does."""
    cfg = load_run_config(args.config, args.launcher, args.cfg_options,
                          args.work_dir)
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP is already enabled in the config.',
                logger='current',
                level=logging.WARNING)
        else:
            assert wrapper == 'OptimWrapper', (
                f'--amp needs an OptimWrapper, the config has {wrapper}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg.resume = args.resume
    if args.trf_weighting:
        enable_weighting(cfg, args.trf_weighting, args.trf_source_dataset,
                         **(args.trf_options or {}))
    return cfg


def main():
    args = parse_args()
    cfg = build_config(args)
    check_data_paths(cfg)
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    # one run per work dir (held until this process ends)
    lock = hold_work_dir(cfg.work_dir) if rank == '0' else None  # noqa: F841
    init_distributed(args.launcher)
    check_checkpoint_path(cfg.get('load_from'), 'load_from')
    trust_resumed_checkpoint(cfg)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()
    finalize_distributed()


if __name__ == '__main__':
    main()

"""Test (evaluate) a segmentor checkpoint with MMEngine's runner, MMSeg's CLI
and mmseg-trf's components registered.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show] [--show-dir DIR] [--tta] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os

from mmengine.config import Config
from mmengine.runner import Runner

import mmseg_trf  # noqa: F401  registers the package's components
from mmseg_trf.utils import (KeyValueAction, check_checkpoint_path,
                             check_data_paths, finalize_distributed,
                             init_distributed, load_run_config,
                             trust_checkpoint)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation logs')
    parser.add_argument(
        '--out', help='the dir to save the predicted segmentation maps')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='dir to save images painted with predictions')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='override settings of the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg: Config, args) -> Config:
    """Switch on the visualization hook for ``--show``/``--show-dir``."""
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a "visualization" entry '
                           'in default_hooks (SegVisualizationHook)')
    hooks.visualization.draw = True
    if args.show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = args.wait_time
    if args.show_dir:
        visualizer = cfg.visualizer
        visualizer['save_dir'] = args.show_dir
    return cfg


def build_config(args) -> Config:
    """The config with the command line applied, as MMSeg's test.py does."""
    cfg = load_run_config(args.config, args.launcher, args.cfg_options,
                          args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    return cfg


def main():
    args = parse_args()
    cfg = build_config(args)
    check_checkpoint_path(args.checkpoint)
    check_data_paths(cfg)
    init_distributed(args.launcher)
    trust_checkpoint(args.checkpoint)
    Runner.from_cfg(cfg).test()
    finalize_distributed()


if __name__ == '__main__':
    main()

"""Convert GTA5 label ids to Cityscapes train ids.

    python tools/convert_gta5.py data/gta5 [--nproc 4]

Writes ``labels/<frame>_labelTrainIds.png`` next to each raw
``labels/<frame>.png`` (Cityscapes label ids), which ``GTA5Dataset`` reads.
"""
import argparse
import os.path as osp

import numpy as np
from mmengine.utils import (mkdir_or_exist, scandir, track_parallel_progress,
                            track_progress)
from PIL import Image

from mmseg_trf.datasets.gta5 import gta5_to_train_ids

TABLE = gta5_to_train_ids()


def convert_one(path: str) -> str:
    """Write the train-id map of one raw GTA5 label map."""
    ids = np.asarray(Image.open(path))
    out = path[:-len('.png')] + '_labelTrainIds.png'
    Image.fromarray(TABLE[ids]).save(out)
    return out


def raw_labels(root: str) -> list:
    """Raw label maps under ``root/labels`` (converted ones excluded)."""
    folder = osp.join(root, 'labels')
    return sorted(
        osp.join(folder, name) for name in scandir(folder, suffix='.png')
        if not name.endswith('_labelTrainIds.png'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('gta5_path', help='GTA5 root (images/, labels/)')
    parser.add_argument('--nproc', type=int, default=1)
    args = parser.parse_args()
    mkdir_or_exist(osp.join(args.gta5_path, 'labels'))
    files = raw_labels(args.gta5_path)
    if not files:
        raise FileNotFoundError(f'no label maps in {args.gta5_path}/labels')
    if args.nproc > 1:
        track_parallel_progress(convert_one, files, args.nproc)
    else:
        track_progress(convert_one, files)
    print(f'converted {len(files)} label maps')


if __name__ == '__main__':
    main()

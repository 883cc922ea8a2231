"""Write the seed benchmark's configs (sources and finetuning runs).

    python tools/generate_configs.py [--check]

* ``configs/sources/``: one config per architecture x source dataset (the
  18 sources of the ICIP 2023 benchmark), MMSeg-style names.
* ``configs/trf_finetune/<arch>/``: per architecture and Cityscapes target
  city, finetuning (Adam, lr 1e-4, 20k iterations, best-validation
  checkpoint). A finetuning config depends on the source only through its
  weights (``load_from``), given at launch; ``tools/train.py
  --trf-weighting otce|leep|logme --trf-source-dataset SRC`` makes it the
  transferability-weighted variant.

``--check`` exits 1 if a committed config differs from what this writes.
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TARGET_CITIES = ('aachen', 'cologne', 'jena', 'strasbourg', 'erfurt')

#: name prefix, model base config, whether it has an auxiliary head
ARCHITECTURES = {
    'fcn8s': ('fcn8s_vgg16', '_base_/models/fcn8s_vgg16.py', False),
    'unet':
    ('unet-s5-d16_fcn', 'mmseg::_base_/models/fcn_unet_s5-d16.py', True),
    'segnet': ('segnet_vgg16', '_base_/models/segnet_vgg16.py', False),
    'pspnet': ('pspnet_r50-d8', 'mmseg::_base_/models/pspnet_r50-d8.py', True),
    'frrn-a': ('frrn-a', '_base_/models/frrn_a.py', False),
    'frrn-b': ('frrn-b', '_base_/models/frrn_b.py', False),
}
#: name suffix, classes, crop size
SOURCE_DATASETS = {
    'bdd100k': ('bdd100k-512x1024', 19, (512, 1024)),
    'gta5': ('gta5-512x1024', 19, (512, 1024)),
    'ade20k': ('ade20k-512x512', 150, (512, 512)),
}


def base_path(path: str, depth: int) -> str:
    """A ``_base_`` entry seen from a config ``depth`` folders deep."""
    return path if '::' in path else '../' * depth + path


def model_overrides(arch: str, classes: int, crop) -> str:
    _, _, auxiliary = ARCHITECTURES[arch]
    parts = [
        f'data_preprocessor=dict(size={crop})',
        f'decode_head=dict(num_classes={classes})'
    ]
    if auxiliary:
        parts.append(f'auxiliary_head=dict(num_classes={classes})')
    if arch == 'unet':
        parts.append("test_cfg=dict(mode='whole')")
    return 'model = dict(\n    ' + ',\n    '.join(parts) + ')\n'


def source_name(arch: str, dataset: str) -> str:
    """MMSeg-style file name of a source config."""
    return (f'{ARCHITECTURES[arch][0]}_4xb2-80k_'
            f'{SOURCE_DATASETS[dataset][0]}.py')


def source_config(arch: str, dataset: str) -> str:
    _, classes, crop = SOURCE_DATASETS[dataset]
    bases = [
        base_path(ARCHITECTURES[arch][1], 1),
        f'../_base_/datasets/{dataset}.py', 'mmseg::_base_/default_runtime.py',
        'mmseg::_base_/schedules/schedule_80k.py'
    ]
    return (f'# Source model of the ICIP 2023 benchmark: {arch} trained on '
            f'{dataset}.\n'
            '_base_ = [\n' + ''.join(f"    '{b}',\n" for b in bases) + ']\n'
            "custom_imports = dict(imports=['mmseg_trf'], "
            'allow_failed_imports=False)\n'
            f'crop_size = {crop}\n' + model_overrides(arch, classes, crop))


def finetune_name(arch: str, city: str) -> str:
    return f'{ARCHITECTURES[arch][0]}_adam-20k_cityscapes-{city}-20img.py'


def finetune_config(arch: str, city: str) -> str:
    bases = [
        base_path(ARCHITECTURES[arch][1],
                  2), f'../../_base_/datasets/cityscapes_{city}.py',
        'mmseg::_base_/default_runtime.py',
        '../../_base_/schedules/finetune_adam_20k.py'
    ]
    return (f'# Finetune a {arch} source on Cityscapes {city} (20 labelled '
            'images; the\n# seed protocol: Adam, lr 1e-4, 20k iterations, '
            'best-validation mIoU kept).\n'
            '#   python tools/train.py CONFIG --cfg-options '
            'load_from=SOURCE.pth\n'
            '_base_ = [\n' + ''.join(f"    '{b}',\n" for b in bases) + ']\n'
            'crop_size = (512, 1024)\n' +
            model_overrides(arch, 19, (512, 1024)).replace(
                'model = dict(\n', 'model = dict(\n    pretrained=None,\n') +
            'load_from = None\n')


def formatted(text: str) -> str:
    """The text as ``make lint`` (yapf, the repository's style) wants it."""
    from yapf.yapflib.yapf_api import FormatCode
    return FormatCode(text, style_config=osp.join(ROOT, 'setup.cfg'))[0]


def all_configs() -> dict:
    """Relative path -> text of every generated config."""
    files = {}
    for arch in ARCHITECTURES:
        for dataset in SOURCE_DATASETS:
            files[osp.join('configs', 'sources',
                           source_name(arch, dataset))] = source_config(
                               arch, dataset)
        for city in TARGET_CITIES:
            folder = osp.join('configs', 'trf_finetune', arch)
            files[osp.join(folder, finetune_name(arch, city))] = \
                finetune_config(arch, city)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--check',
        action='store_true',
        help='only compare with the committed configs')
    args = parser.parse_args()
    stale = []
    for relative, text in all_configs().items():
        text = formatted(text)
        path = osp.join(ROOT, relative)
        current = open(path).read() if osp.isfile(path) else None
        if current == text:
            continue
        stale.append(relative)
        if not args.check:
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)
    verb = 'out of date' if args.check else 'written'
    print(f'{len(stale)} configs {verb}' + ''.join(f'\n  {p}' for p in stale))
    sys.exit(1 if args.check and stale else 0)


if __name__ == '__main__':
    main()

"""Weighted finetuning on MMSeg's own model-zoo configs (auxiliary heads
included), on a Cityscapes city split, built small and without downloads.
"""
import json

import pytest

from ..conftest import run_tool
from .user_config import PIPELINES

ZOO = {
    # config, overrides that avoid a download, has an auxiliary head
    'pspnet': ('mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
               'pretrained=None', True),
    'segformer':
    ('mmseg::segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py',
     'backbone=dict(init_cfg=None)', False),
}

TEMPLATE = '''
_base_ = [{base!r}]
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
crop_size = (64, 128)
model = dict({no_download}, data_preprocessor=dict(size=crop_size),
             test_cfg=dict(mode='whole'))
{pipelines}
city = dict(type='CityscapesCityDataset', data_root={root!r}, city='aachen',
            num_labelled=4)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(city, subset='labelled', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(city, subset='heldout', pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
'''


@pytest.mark.parametrize('name', sorted(ZOO))
def test_zoo_configs_train_with_weighting(name, tmp_path, cityscapes_root):
    base, no_download, auxiliary = ZOO[name]
    config = tmp_path / f'{name}_city.py'
    config.write_text(
        TEMPLATE.format(
            base=base,
            no_download=no_download,
            pipelines=PIPELINES,
            root=cityscapes_root))
    work = tmp_path / 'work'
    proc = run_tool(
        'train.py',
        config,
        '--work-dir',
        work,
        '--trf-weighting',
        'leep',
        '--trf-options',
        'metrics=[leep]',
        'num_pixels=200',
        'repetitions=1',
        'patch_size=4',
        'loss_normalize=weights',
        timeout=900)
    log = proc.stdout + proc.stderr
    assert 'loss_trf_ce' in log  # the decode head's weighted loss
    assert ('aux.loss_ce' in log) == auxiliary  # trains beside it, as is
    meta = json.loads((work / 'trf' / 'weight_map.json').read_text())
    assert meta['metric'] == 'leep'
    assert (work / 'iter_2.pth').is_file()

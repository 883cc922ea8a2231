"""The benchmark's architectures at CPU-test widths on the fixture data."""
import os.path as osp

from ..conftest import ROOT

NORM = "dict(type='BN', requires_grad=True)"
#: model base config and the overrides that shrink it
TINY = {
    'fcn8s':
    ('configs/_base_/models/fcn8s_vgg16.py',
     f'backbone=dict(base_channels=8, fc_channels=32, norm_cfg={NORM}),'
     f'decode_head=dict(in_channels=[32, 64, 32], channels=16, '
     f'num_classes=19, norm_cfg={NORM})'),
    'unet': ('mmseg::_base_/models/fcn_unet_s5-d16.py',
             f'backbone=dict(base_channels=8, norm_cfg={NORM}),'
             f'decode_head=dict(in_channels=8, channels=8, num_classes=19, '
             f'norm_cfg={NORM}),'
             f'auxiliary_head=dict(in_channels=16, channels=8, num_classes=19,'
             f' norm_cfg={NORM}), test_cfg=dict(mode="whole")'),
    'segnet': ('configs/_base_/models/segnet_vgg16.py',
               f'backbone=dict(base_channels=8, norm_cfg={NORM}),'
               f'decode_head=dict(in_channels=8, channels=8, num_classes=19, '
               f'norm_cfg={NORM})'),
    'pspnet':
    ('mmseg::_base_/models/pspnet_r50-d8.py', 'pretrained=None,'
     f'backbone=dict(depth=18, stem_channels=8, base_channels=8, '
     f'norm_cfg={NORM}),'
     f'decode_head=dict(in_channels=64, channels=16, num_classes=19, '
     f'norm_cfg={NORM}),'
     f'auxiliary_head=dict(in_channels=32, channels=8, '
     f'num_classes=19, norm_cfg={NORM})'),
    'frrn-a': ('configs/_base_/models/frrn_a.py',
               f'backbone=dict(base_channels=8, stream_channels=8, '
               f'norm_cfg={NORM}),'
               f'decode_head=dict(in_channels=8, channels=8, num_classes=19, '
               f'norm_cfg={NORM})'),
    'frrn-b': ('configs/_base_/models/frrn_b.py',
               f'backbone=dict(base_channels=8, stream_channels=8, '
               f'norm_cfg={NORM}),'
               f'decode_head=dict(in_channels=8, channels=8, num_classes=19, '
               f'norm_cfg={NORM})'),
}

TRAIN = '''
_base_ = [{model!r}, 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
crop_size = (64, 128)
model = dict(data_preprocessor=dict(size=crop_size), {overrides})
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CityscapesCityDataset', data_root={root!r},
                 city='aachen', subset='labelled', num_labelled=4,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesCityDataset', data_root={root!r},
                 city='aachen', subset='heldout', num_labelled=4,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False))
'''


def tiny_model_cfg(arch):
    """The model dict of an architecture at test width."""
    from mmengine.config import Config
    base, overrides = TINY[arch]
    path = base if '::' in base else osp.join(ROOT, base)
    text = (f'_base_ = [{path!r}]\n'
            f'model = dict({overrides})\n')
    return Config.fromstring(text, '.py').model


def write_tiny_train_config(path, arch, root):
    base, overrides = TINY[arch]
    model = base if '::' in base else osp.join(ROOT, base)
    with open(path, 'w') as f:
        f.write(TRAIN.format(model=model, overrides=overrides, root=root))
    return str(path)

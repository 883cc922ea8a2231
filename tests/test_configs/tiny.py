"""The benchmark's architectures at CPU-test widths on the fixture data."""
from mmengine.config import Config

from mmseg_trf.demo.models import TINY_MODELS, model_base, model_overrides

TINY = TINY_MODELS

TRAIN = '''
_base_ = [{model!r}, 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
crop_size = (64, 128)
model = dict(data_preprocessor=dict(size=crop_size), **{overrides!r})
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
    text = (f'_base_ = [{model_base(arch)!r}]\n'
            f'model = dict(**{model_overrides(arch, 19)!r})\n')
    return Config.fromstring(text, '.py').model


def write_tiny_train_config(path, arch, root):
    with open(path, 'w') as f:
        f.write(
            TRAIN.format(
                model=model_base(arch),
                overrides=model_overrides(arch, 19),
                root=root))
    return str(path)

"""A config as a user would write it: MMSeg's UNet with an FCN head on a
Cityscapes-layout dataset, with mmseg-trf imported."""

#: The pipelines of a 64 x 128 user config (``crop_size`` defined before).
PIPELINES = '''
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')]
'''

TEMPLATE = '''
_base_ = ['mmseg::_base_/models/fcn_unet_s5-d16.py',
          'mmseg::_base_/datasets/cityscapes.py',
          'mmseg::_base_/default_runtime.py',
          'mmseg::_base_/schedules/schedule_20k.py']
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
default_scope = 'mmseg'
crop_size = (64, 128)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(base_channels=8, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=8, channels=8, num_classes=19,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=16, channels=8, num_classes=19,
                        norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))
{pipelines}
data_root = {data_root!r}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root,
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root,
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={iters}, val_interval={iters})
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
'''


def write_user_config(path, data_root, iters=4):
    with open(path, 'w') as f:
        f.write(
            TEMPLATE.format(
                pipelines=PIPELINES, data_root=data_root, iters=iters))
    return str(path)

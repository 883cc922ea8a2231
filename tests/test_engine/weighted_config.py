"""A tiny UNet+FCN finetuning config with the transferability hook and the
weighted loss, on the generated Cityscapes-layout fixture."""

TEMPLATE = '''
_base_ = ['mmseg::_base_/models/fcn_unet_s5-d16.py',
          'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
default_scope = 'mmseg'
randomness = dict(seed=0)
crop_size = (64, 128)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(base_channels=8, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=8, channels=8, num_classes=19,
                     norm_cfg=norm_cfg, loss_decode=dict(type={loss!r})),
    auxiliary_head=dict(in_channels=16, channels=8, num_classes=19,
                        norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))
data_root = {root!r}
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='AddPixelCoordinates'),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5), dict(type={pack!r})]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CityscapesCityDataset', data_root=data_root,
                 city='aachen', subset='labelled', num_labelled=4,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesCityDataset', data_root=data_root,
                 city='aachen', subset='heldout', num_labelled=4,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters},
                 val_interval={iters})
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False))
source = dict(type='CityscapesDataset', data_root=data_root,
              data_prefix=dict(img_path='leftImg8bit/val',
                               seg_map_path='gtFine/val'),
              pipeline=test_pipeline)
custom_hooks = {hooks}
'''


def hook_cfg(**overrides):
    hook = dict(
        type='TransferabilityHook',
        metrics=['otce', 'leep', 'logme'],
        map_metric='otce',
        num_pixels=400,
        repetitions=2,
        source_dataset='SOURCE',
        patch_size=4)
    hook.update(overrides)
    return repr([hook]).replace("'SOURCE'", 'source')


def write_config(path, root, weighted=True, iters=4, hooks=None):
    text = TEMPLATE.format(
        root=root,
        iters=iters,
        loss='TrfWeightedCrossEntropyLoss' if weighted else 'CrossEntropyLoss',
        pack='PackTrfInputs' if weighted else 'PackSegInputs',
        hooks=(hooks
               if hooks is not None else hook_cfg() if weighted else '[]'))
    with open(path, 'w') as f:
        f.write(text)
    return str(path)

# A Cityscapes city as a few-shot target (mmseg-trf).
# The city's images in sorted file order: the first `num_labelled` (20, as in
# the papers) finetune the model, the rest are held out for evaluation
# (CityscapesCityDataset). Other cities: set `city` in the three datasets,
# e.g. --cfg-options train_dataloader.dataset.city=bremen
# val_dataloader.dataset.city=bremen trf_dataset.city=bremen
_base_ = ['mmseg::_base_/datasets/cityscapes.py']
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
city = 'aachen'
num_labelled = 20
data_root = 'data/cityscapes/'
crop_size = (512, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
# The same pipeline carrying each pixel's source position, which the
# transferability-weighted loss needs: coordinates added right after the
# labels are loaded, and packed with them.
trf_train_pipeline = train_pipeline[:2] + [
    dict(type='AddPixelCoordinates')
] + train_pipeline[2:-1] + [dict(type='PackTrfInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CityscapesCityDataset',
        data_root=data_root,
        city=city,
        subset='labelled',
        num_labelled=num_labelled,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CityscapesCityDataset',
        data_root=data_root,
        city=city,
        subset='heldout',
        num_labelled=num_labelled,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# The labelled target images as tools/score_sources.py and
# TransferabilityHook read them (whole images, test pipeline).
trf_dataset = dict(
    type='CityscapesCityDataset',
    data_root=data_root,
    city=city,
    subset='labelled',
    num_labelled=num_labelled,
    pipeline=test_pipeline)

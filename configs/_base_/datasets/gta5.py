# GTA5 (Richter et al., ECCV 2016) as a source: images/ and labels/ with
# train-id maps from tools/convert_gta5.py; the 19 Cityscapes classes and
# Cityscapes' pipelines. Validation: the last 500 frames (a monitor only;
# they are part of the training frames too).
_base_ = ['mmseg::_base_/datasets/cityscapes.py']
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
data_root = 'data/gta5/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='GTA5Dataset',
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='GTA5Dataset',
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        indices=-500,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
# Source pixels for OTCE: whole training frames, test pipeline.
trf_dataset = dict(
    type='GTA5Dataset',
    data_root=data_root,
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    pipeline={{_base_.test_pipeline}})

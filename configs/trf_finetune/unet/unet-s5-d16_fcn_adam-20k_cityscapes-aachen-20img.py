# Finetune a unet source on Cityscapes aachen (20 labelled images; the
# seed protocol: Adam, lr 1e-4, 20k iterations, best-validation mIoU kept).
#   python tools/train.py CONFIG --cfg-options load_from=SOURCE.pth
_base_ = [
    'mmseg::_base_/models/fcn_unet_s5-d16.py',
    '../../_base_/datasets/cityscapes_aachen.py',
    'mmseg::_base_/default_runtime.py',
    '../../_base_/schedules/finetune_adam_20k.py',
]
crop_size = (512, 1024)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(512, 1024)),
    decode_head=dict(num_classes=19),
    auxiliary_head=dict(num_classes=19),
    test_cfg=dict(mode='whole'))
load_from = None

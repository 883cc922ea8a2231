# Finetune a frrn-a source on Cityscapes erfurt (20 labelled images; the
# seed protocol: Adam, lr 1e-4, 20k iterations, best-validation mIoU kept).
#   python tools/train.py CONFIG --cfg-options load_from=SOURCE.pth
_base_ = [
    '../../_base_/models/frrn_a.py',
    '../../_base_/datasets/cityscapes_erfurt.py',
    'mmseg::_base_/default_runtime.py',
    '../../_base_/schedules/finetune_adam_20k.py',
]
crop_size = (512, 1024)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(512, 1024)),
    decode_head=dict(num_classes=19))
load_from = None

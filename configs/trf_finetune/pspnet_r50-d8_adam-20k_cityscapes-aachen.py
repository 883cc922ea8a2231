# Vanilla finetuning of a PSPNet source checkpoint on Cityscapes aachen
# (20 labelled images, the seed papers' protocol). Set the source checkpoint:
#   python tools/train.py CONFIG --cfg-options load_from=SOURCE.pth
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py',
    '../_base_/datasets/cityscapes_aachen.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/finetune_adam_20k.py'
]
crop_size = (512, 1024)
model = dict(data_preprocessor=dict(size=crop_size), pretrained=None)
load_from = None

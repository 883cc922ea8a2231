# Source model of the ICIP 2023 benchmark: frrn-b trained on gta5.
_base_ = [
    '../_base_/models/frrn_b.py',
    '../_base_/datasets/gta5.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['mmseg_trf'], allow_failed_imports=False)
crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=(512, 1024)), decode_head=dict(num_classes=19))

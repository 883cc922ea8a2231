# ADE20K (Zhou et al., CVPR 2017) as a source: MMSeg's dataset and config
# (150 classes: a task shift as well as a domain shift).
_base_ = ['mmseg::_base_/datasets/ade20k.py']
# Source pixels for OTCE: training images, test pipeline.
trf_dataset = dict(
    type='ADE20KDataset',
    data_root={{_base_.data_root}},
    data_prefix=dict(
        img_path='images/training', seg_map_path='annotations/training'),
    reduce_zero_label=True,
    pipeline={{_base_.test_pipeline}})

# BDD100K (Yu et al., CVPR 2020) as a source: MMSeg's dataset and config
# (images/10k, labels/sem_seg/masks; the 19 Cityscapes classes).
_base_ = ['mmseg::_base_/datasets/bdd100k.py']
# Source pixels for OTCE: training images, test pipeline.
trf_dataset = dict(
    type='BDD100KDataset',
    data_root={{_base_.data_root}},
    data_prefix=dict(
        img_path='images/10k/train',
        seg_map_path='labels/sem_seg/masks/train'),
    pipeline={{_base_.test_pipeline}})

# FCN-8s (Long et al., CVPR 2015): VGG-16 + fc6/fc7, scores fused at strides
# 32, 16 and 8.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VGG16',
        base_channels=64,
        fc_channels=4096,
        out_indices=(2, 3, 5),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FCN8sHead',
        in_channels=[256, 512, 4096],
        in_index=[0, 1, 2],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

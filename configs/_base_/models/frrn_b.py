# FRRN-B (Pohlen et al., CVPR 2017): full-resolution residual stream beside
# a pooling stream, 1x1 classifier at full resolution.
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
        type='FRRN',
        arch='B',
        base_channels=48,
        stream_channels=32,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FCNHead',
        in_channels=48,
        in_index=0,
        channels=48,
        num_convs=0,
        concat_input=False,
        dropout_ratio=0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

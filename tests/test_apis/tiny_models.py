"""Tiny segmentors of several decode-head families, for CPU tests."""
from mmengine.config import ConfigDict

NORM = dict(type='BN', requires_grad=True)
PREPROCESSOR = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
RESNET = dict(
    type='ResNetV1c',
    depth=18,
    stem_channels=8,
    base_channels=8,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    dilations=(1, 1, 2, 4),
    strides=(1, 2, 1, 1),
    norm_cfg=NORM,
    contract_dilation=True)


def _segmentor(decode_head, backbone=RESNET, num_classes=19, **extra):
    heads = decode_head if isinstance(decode_head, list) else [decode_head]
    for head in heads:
        head.setdefault('num_classes', num_classes)
        head.setdefault('norm_cfg', NORM)
    return ConfigDict(
        type=extra.pop('type', 'EncoderDecoder'),
        data_preprocessor=PREPROCESSOR,
        backbone=backbone,
        decode_head=decode_head,
        test_cfg=dict(mode='whole'),
        **extra)


def fcn(num_classes=19):
    return _segmentor(
        dict(
            type='FCNHead',
            in_channels=64,
            in_index=3,
            channels=16,
            num_convs=1,
            concat_input=True),
        num_classes=num_classes)


def psp():
    return _segmentor(
        dict(
            type='PSPHead',
            in_channels=64,
            in_index=3,
            channels=16,
            pool_scales=(1, 2, 3, 6)))


def deeplabv3plus():
    return _segmentor(
        dict(
            type='DepthwiseSeparableASPPHead',
            in_channels=64,
            in_index=3,
            channels=16,
            dilations=(1, 2, 3, 4),
            c1_in_channels=8,
            c1_channels=8))


def segformer():
    backbone = dict(
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=8,
        num_stages=4,
        num_layers=[1, 1, 1, 1],
        num_heads=[1, 2, 4, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=2)
    return _segmentor(
        dict(
            type='SegformerHead',
            in_channels=[8, 16, 32, 64],
            in_index=[0, 1, 2, 3],
            channels=16,
            align_corners=False),
        backbone=backbone)


def ocr():
    return _segmentor([
        dict(
            type='FCNHead',
            in_channels=32,
            in_index=2,
            channels=16,
            num_convs=1,
            concat_input=False),
        dict(
            type='OCRHead',
            in_channels=64,
            in_index=3,
            channels=16,
            ocr_channels=8)
    ],
                      type='CascadeEncoderDecoder',
                      num_stages=2)


def unet_fcn():
    backbone = dict(
        type='UNet',
        in_channels=3,
        base_channels=8,
        num_stages=5,
        strides=(1, 1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2, 2),
        dec_num_convs=(2, 2, 2, 2),
        downsamples=(True, ) * 4,
        enc_dilations=(1, ) * 5,
        dec_dilations=(1, ) * 4,
        norm_cfg=NORM,
        upsample_cfg=dict(type='InterpConv'))
    return _segmentor(
        dict(
            type='FCNHead',
            in_channels=8,
            in_index=4,
            channels=8,
            num_convs=1,
            concat_input=False,
            align_corners=False),
        backbone=backbone)


HEADS = dict(
    fcn=fcn,
    psp=psp,
    deeplabv3plus=deeplabv3plus,
    segformer=segformer,
    ocr=ocr,
    unet_fcn=unet_fcn)


def model_config_text(model_cfg, extra='') -> str:
    """A config file's text holding this model."""
    return (f"default_scope = 'mmseg'\n"
            f"custom_imports = dict(imports=['mmseg_trf'])\n"
            f"model = {dict(model_cfg)!r}\n{extra}")

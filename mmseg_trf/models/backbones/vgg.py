"""VGG-16 encoders for FCN-8s and SegNet."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

#: Convolutions per stage of VGG-16 (Simonyan & Zisserman 2015, config D).
VGG16_STAGES = (2, 2, 3, 3, 3)


def conv_stage(in_channels: int, out_channels: int, num_convs: int,
               norm_cfg: Optional[dict]) -> nn.Sequential:
    """``num_convs`` 3x3 convolutions (+ norm) + ReLU."""
    return nn.Sequential(*[
        ConvModule(
            in_channels if i == 0 else out_channels,
            out_channels,
            3,
            padding=1,
            norm_cfg=norm_cfg,
            act_cfg=dict(type='ReLU')) for i in range(num_convs)
    ])


def stage_widths(base_channels: int) -> List[int]:
    """VGG widths 64-128-256-512-512, scaled by ``base_channels / 64``."""
    return [base_channels * m for m in (1, 2, 4, 8, 8)]


def vgg16_encoder(in_channels: int, base_channels: int,
                  norm_cfg: Optional[dict]) -> nn.ModuleList:
    """The five conv stages of VGG-16 (without their pooling)."""
    stages, previous = nn.ModuleList(), in_channels
    for width, num_convs in zip(stage_widths(base_channels), VGG16_STAGES):
        stages.append(conv_stage(previous, width, num_convs, norm_cfg))
        previous = width
    return stages


@MODELS.register_module()
class VGG16(BaseModule):
    """VGG-16 feature extractor with the FCN fully-convolutional head.

    The five conv stages each end in 2x2 max pooling (outputs at strides
    2..32); FCN's ``fc6`` (7x7 conv, padding 3) and ``fc7`` (1x1 conv), each
    with ReLU and dropout, follow at stride 32 (Long, Shelhamer, Darrell,
    CVPR 2015). Outputs are the pooled stages and ``fc7``, indexed 0-5.

    Args:
        in_channels (int): Input channels.
        base_channels (int): Width of stage 1 (64 in VGG-16).
        fc_channels (int): Width of fc6/fc7 (4096 in FCN).
        out_indices (Sequence[int]): Which outputs: 0-4 the pooled stages,
            5 ``fc7``.
        dropout_ratio (float): Dropout after fc6 and fc7.
        norm_cfg (dict, optional): Norm after each conv (None: plain VGG).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 fc_channels: int = 4096,
                 out_indices: Sequence[int] = (2, 3, 5),
                 dropout_ratio: float = 0.5,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        widths = stage_widths(base_channels)
        self.stages = vgg16_encoder(in_channels, base_channels, norm_cfg)
        previous = widths[-1]
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.fc = nn.Sequential(
            ConvModule(previous, fc_channels, 7, padding=3, norm_cfg=norm_cfg),
            nn.Dropout2d(dropout_ratio),
            ConvModule(fc_channels, fc_channels, 1, norm_cfg=norm_cfg),
            nn.Dropout2d(dropout_ratio))
        self.out_indices = tuple(out_indices)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Pooled stage outputs and fc7, as selected by ``out_indices``."""
        outs = []
        for stage in self.stages:
            x = self.pool(stage(x))
            outs.append(x)
        outs.append(self.fc(x))
        return tuple(outs[i] for i in self.out_indices)


@MODELS.register_module()
class SegNetVGG16(BaseModule):
    """SegNet: VGG-16 encoder and its mirrored decoder with max-unpooling
    by the encoder's pooling indices (Badrinarayanan, Kendall, Cipolla,
    TPAMI 2017).

    Each encoder stage ends in 2x2 max pooling that remembers the argmax;
    each decoder stage unpools with those indices (no learned upsampling)
    and applies the mirrored convolutions, all with batch norm. The output
    is the last decoder feature map at full resolution (``base_channels``
    wide), for a head whose ``conv_seg`` is SegNet's final classifier.

    Args:
        in_channels (int): Input channels.
        base_channels (int): Width of stage 1 (64 in SegNet).
        norm_cfg (dict): Norm after each conv.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        widths = stage_widths(base_channels)
        self.encoder = vgg16_encoder(in_channels, base_channels, norm_cfg)
        # Decoder stage i mirrors encoder stage i: convs at its width, the
        # last one narrowing to the previous stage's width.
        self.decoder = nn.ModuleList()
        for i in reversed(range(len(widths))):
            width, num_convs = widths[i], VGG16_STAGES[i]
            out = widths[i - 1] if i > 0 else base_channels
            convs = [
                ConvModule(width, width, 3, padding=1, norm_cfg=norm_cfg)
                for _ in range(num_convs - 1)
            ] + [ConvModule(width, out, 3, padding=1, norm_cfg=norm_cfg)]
            self.decoder.append(nn.Sequential(*convs))
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """The full-resolution decoder output (one-element tuple)."""
        memory = []
        for stage in self.encoder:
            x = stage(x)
            size = x.shape[-2:]
            x, indices = self.pool(x)
            memory.append((indices, size))
        for stage, (indices, size) in zip(self.decoder, reversed(memory)):
            x = stage(self.unpool(x, indices, output_size=size))
        return (x, )

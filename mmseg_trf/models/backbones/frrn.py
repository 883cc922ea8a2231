"""Full-resolution residual networks FRRN-A and FRRN-B (Pohlen, Hermans,
Mathias, Leibe, CVPR 2017)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

#: (units, width multiplier of base_channels) per encoder pooling level;
#: the decoder goes back up with 2 units per level (Table 1 of the paper).
ENCODERS = {
    'A': ((3, 2), (4, 4), (2, 8), (2, 8)),
    'B': ((3, 2), (4, 4), (2, 8), (2, 8), (2, 8)),
}
DECODERS = {
    'A': ((2, 4), (2, 4), (2, 2)),
    'B': ((2, 4), (2, 4), (2, 4), (2, 2)),
}


class ResidualUnit(nn.Module):
    """RU: two 3x3 conv + BN, ReLU in between, identity shortcut."""

    def __init__(self, channels: int, norm_cfg: dict) -> None:
        super().__init__()
        self.conv1 = ConvModule(
            channels, channels, 3, padding=1, norm_cfg=norm_cfg)
        self.conv2 = ConvModule(
            channels, channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(self.conv1(x)))


class FRRU(nn.Module):
    """Full-resolution residual unit at pooling scale ``scale``.

    The pooling stream ``y`` (at 1/scale) is concatenated with the residual
    stream ``z`` (full resolution) max-pooled to its size, and passed
    through two 3x3 conv + BN + ReLU; a 1x1 conv of the result, upsampled
    back, is added to ``z``.

    Args:
        in_channels (int): Channels of the incoming pooling stream.
        channels (int): Channels of the outgoing pooling stream.
        stream_channels (int): Channels of the residual stream.
        scale (int): Pooling scale of this unit.
        norm_cfg (dict): Norm config.
    """

    def __init__(self, in_channels: int, channels: int, stream_channels: int,
                 scale: int, norm_cfg: dict) -> None:
        super().__init__()
        self.scale = scale
        self.conv1 = ConvModule(
            in_channels + stream_channels,
            channels,
            3,
            padding=1,
            norm_cfg=norm_cfg)
        self.conv2 = ConvModule(
            channels, channels, 3, padding=1, norm_cfg=norm_cfg)
        self.to_stream = nn.Conv2d(channels, stream_channels, 1)

    def forward(self, y: torch.Tensor,
                z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        pooled = F.adaptive_max_pool2d(z, y.shape[-2:]) \
            if self.scale > 1 else z
        y = self.conv2(self.conv1(torch.cat([y, pooled], 1)))
        z = z + F.interpolate(
            self.to_stream(y), size=z.shape[-2:], mode='nearest')
        return y, z


@MODELS.register_module()
class FRRN(BaseModule):
    """FRRN-A / FRRN-B: a residual stream at full resolution beside a
    pooling stream that goes down and back up through FRRUs.

    conv 5x5 and 3 RUs at ``base_channels`` (48); the residual stream is a
    1x1 conv to ``stream_channels`` (32); encoder levels at scales 2, 4, 8,
    16 (and 32 for B) with 3, 4, 2, 2 (, 2) FRRUs of 2, 4, 8, 8 (, 8) times
    ``base_channels`` (96, 192, 384, 384); the decoder upsamples by 2 per
    level with 2 FRRUs each; at full resolution both streams are
    concatenated, reduced by a 1x1 conv to ``base_channels`` and refined by
    3 RUs. The output (one-element tuple) is that full-resolution map, for a
    head whose ``conv_seg`` is FRRN's final 1x1 classifier.

    Args:
        arch (str): ``'A'`` or ``'B'``.
        in_channels (int): Input channels.
        base_channels (int): 48 in the paper.
        stream_channels (int): 32 in the paper.
        norm_cfg (dict): Norm config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 arch: str = 'A',
                 in_channels: int = 3,
                 base_channels: int = 48,
                 stream_channels: int = 32,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if arch not in ENCODERS:
            raise ValueError(f'FRRN arch must be A or B, got {arch!r}')
        self.stem = nn.Sequential(
            ConvModule(
                in_channels, base_channels, 5, padding=2, norm_cfg=norm_cfg),
            *[ResidualUnit(base_channels, norm_cfg) for _ in range(3)])
        self.split = nn.Conv2d(base_channels, stream_channels, 1)
        self.encoder, width, scale = nn.ModuleList(), base_channels, 1
        for units, mult in ENCODERS[arch]:
            scale *= 2
            level = nn.ModuleList()
            for _ in range(units):
                level.append(
                    FRRU(width, base_channels * mult, stream_channels, scale,
                         norm_cfg))
                width = base_channels * mult
            self.encoder.append(level)
        self.decoder = nn.ModuleList()
        for units, mult in DECODERS[arch]:
            scale //= 2
            level = nn.ModuleList()
            for _ in range(units):
                level.append(
                    FRRU(width, base_channels * mult, stream_channels, scale,
                         norm_cfg))
                width = base_channels * mult
            self.decoder.append(level)
        self.merge = ConvModule(
            width + stream_channels, base_channels, 1, norm_cfg=norm_cfg)
        self.head = nn.Sequential(
            *[ResidualUnit(base_channels, norm_cfg) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """The full-resolution feature map (one-element tuple)."""
        y = self.stem(x)
        z = self.split(y)
        for level in self.encoder:
            y = F.max_pool2d(y, 2, 2, ceil_mode=True)
            for unit in level:
                y, z = unit(y, z)
        for level in self.decoder:
            y = F.interpolate(y, scale_factor=2, mode='nearest')
            for unit in level:
                y, z = unit(y, z)
        y = F.interpolate(y, size=z.shape[-2:], mode='nearest')
        return (self.head(self.merge(torch.cat([y, z], 1))), )

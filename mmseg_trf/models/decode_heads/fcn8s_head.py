"""The FCN-8s decoder (Long, Shelhamer, Darrell, CVPR 2015)."""
from typing import List

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import nn


@MODELS.register_module()
class FCN8sHead(BaseDecodeHead):
    """FCN-8s: fc7 predictions upsampled x2 and fused with pool4, again x2
    and fused with pool3, at stride 8.

    FCN-8s sums per-branch class scores ``W_i f_i``. Here each branch is a
    1x1 projection ``P_i`` to ``channels`` and the sum is classified by one
    ``conv_seg`` ``W``: since projection, bilinear upsampling and summation
    are all linear, ``W sum_i up(P_i f_i) = sum_i up((W P_i) f_i)`` is the
    same family of score fusions (of rank at most ``channels``), and the
    fused map is a pre-classifier feature like every MMSeg head's. Upsampling
    is bilinear (FCN initialised its deconvolutions to bilinear).

    Args:
        in_channels (list[int]): Channels of pool3, pool4, fc7.
        in_index (list[int]): Their backbone output indices.
        **kwargs: ``BaseDecodeHead`` arguments (``channels`` is the fused
            width, ``input_transform`` must stay ``'multiple_select'``).
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('input_transform', 'multiple_select')
        super().__init__(**kwargs)
        if len(self.in_channels) != 3:
            raise ValueError('FCN8sHead takes pool3, pool4 and fc7')
        self.projections = nn.ModuleList(
            [nn.Conv2d(c, self.channels, 1) for c in self.in_channels])

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """Fused stride-8 scores."""
        pool3, pool4, fc7 = self._transform_inputs(inputs)
        fused = self.projections[2](fc7)
        for feature, project in ((pool4, self.projections[1]),
                                 (pool3, self.projections[0])):
            fused = project(feature) + resize(
                fused,
                size=feature.shape[-2:],
                mode='bilinear',
                align_corners=self.align_corners)
        return self.cls_seg(fused)

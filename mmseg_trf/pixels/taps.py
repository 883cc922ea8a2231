"""Where pixel features are read: the decode head's final classifier
(``conv_seg``), its input (``pre_logits``) and output (``logits``)."""
from typing import Optional

import torch
from torch import nn


def classifier_head(model: nn.Module) -> nn.Module:
    """The decode head whose ``conv_seg`` makes the final prediction.

    Cascade segmentors (e.g. OCRNet) have a list of heads; the last one
    predicts.

    Args:
        model (nn.Module): An MMSeg segmentor.

    Returns:
        nn.Module: The head, which has a ``conv_seg`` convolution.
    """
    head = model.decode_head
    if isinstance(head, nn.ModuleList):
        head = head[-1]
    if not isinstance(getattr(head, 'conv_seg', None), nn.Conv2d):
        raise ValueError(f'{type(head).__name__} has no conv_seg classifier; '
                         'pixel features are read at its input')
    return head


class ConvSegTap:
    """Capture the input (pre-classifier features) and output (logits) of a
    head's ``conv_seg`` during a forward pass.

    The input is taken after ``dropout``, which is the identity in eval
    mode. If the classifier runs more than once, the last call is kept.

    Args:
        head (nn.Module): A decode head with ``conv_seg``.
    """

    def __init__(self, head: nn.Module) -> None:
        self.head = head
        self.features: Optional[torch.Tensor] = None
        self.logits: Optional[torch.Tensor] = None
        self._handle = None

    def _hook(self, module, inputs, output) -> None:
        self.features, self.logits = inputs[0], output

    def __enter__(self) -> 'ConvSegTap':
        self._handle = self.head.conv_seg.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()


def layer_channels(model, layer: str) -> int:
    """Channels of the classifier's input (``pre_logits``) or output."""
    conv = classifier_head(model).conv_seg
    return conv.in_channels if layer == 'pre_logits' else conv.out_channels


def check_source_classes(model, dataset, where) -> None:
    """The source dataset's classes must be the model's output classes."""
    classes = len(dataset.metainfo['classes'])
    outputs = classifier_head(model).num_classes
    if classes != outputs:
        raise ValueError(f'class-count mismatch: the model predicts '
                         f'{outputs} classes, its dataset {where} has '
                         f'{classes}')


__all__ = [
    'classifier_head', 'ConvSegTap', 'layer_channels', 'check_source_classes'
]

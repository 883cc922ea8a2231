"""Registered models: the seed benchmark's architectures and the loss."""
from .backbones import FRRN, VGG16, SegNetVGG16
from .decode_heads import FCN8sHead
from .losses import TrfWeightedCrossEntropyLoss

__all__ = [
    'VGG16', 'SegNetVGG16', 'FRRN', 'FCN8sHead', 'TrfWeightedCrossEntropyLoss'
]

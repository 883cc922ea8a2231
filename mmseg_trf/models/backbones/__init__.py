from .frrn import FRRN
from .vgg import VGG16, SegNetVGG16

__all__ = ['VGG16', 'SegNetVGG16', 'FRRN']

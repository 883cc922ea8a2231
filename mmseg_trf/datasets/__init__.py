"""Registered datasets and transforms."""
from .cityscapes_city import CityscapesCityDataset
from .transforms import AddPixelCoordinates, PackTrfInputs

__all__ = ['CityscapesCityDataset', 'AddPixelCoordinates', 'PackTrfInputs']

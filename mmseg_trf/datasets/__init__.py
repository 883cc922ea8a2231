"""Registered datasets and transforms."""
from .cityscapes_city import CityscapesCityDataset
from .gta5 import GTA5Dataset, gta5_to_train_ids
from .transforms import AddPixelCoordinates, PackTrfInputs

__all__ = [
    'CityscapesCityDataset', 'GTA5Dataset', 'gta5_to_train_ids',
    'AddPixelCoordinates', 'PackTrfInputs'
]

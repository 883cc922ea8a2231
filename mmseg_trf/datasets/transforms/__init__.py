from .coordinates import AddPixelCoordinates, PackTrfInputs

__all__ = ['AddPixelCoordinates', 'PackTrfInputs']

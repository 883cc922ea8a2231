from .coordinates import AddPixelCoordinates, PackTrfInputs, original_positions

__all__ = ['AddPixelCoordinates', 'PackTrfInputs', 'original_positions']

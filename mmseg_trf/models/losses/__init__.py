from .trf_cross_entropy import TrfWeightedCrossEntropyLoss

__all__ = ['TrfWeightedCrossEntropyLoss']

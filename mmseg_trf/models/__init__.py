"""Registered models: losses (and, later, backbones and heads)."""
from .losses import TrfWeightedCrossEntropyLoss

__all__ = ['TrfWeightedCrossEntropyLoss']

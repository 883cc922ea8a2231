"""Evaluation of transferability rankings (no MMSeg import)."""
from .ranking import CRITERIA, rank_correlations

__all__ = ['rank_correlations', 'CRITERIA']

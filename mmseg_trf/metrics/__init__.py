"""Transferability metrics on pixel features (no MMSegmentation import).

Every metric takes numpy arrays or torch tensors, computes in float64 where
the data lives, and returns a Python float, higher meaning more
transferable. :data:`METRICS` lists them by name with what they need.
"""
from .ccfv import ccfv
from .gbc import gbc
from .hscore import hscore, regularized_hscore
from .leep import leep, nce, nleep
from .logme import logme
from .otce import otce, otce_label_joint
from .registry import (METRICS, SOURCE_AND_TARGET, SOURCE_PROBS,
                       TARGET_FEATURES, TARGET_FEATURES_BY_IMAGE, MetricSpec,
                       get_metric)
from .stats import FeatureStats
from .streaming import (HScoreAccumulator, LEEPAccumulator, LogMEAccumulator,
                        NCEAccumulator)
from .transrate import transrate

__all__ = [
    'hscore', 'regularized_hscore', 'logme', 'gbc', 'transrate', 'nleep',
    'leep', 'nce', 'otce', 'otce_label_joint', 'ccfv', 'METRICS', 'MetricSpec',
    'get_metric', 'TARGET_FEATURES', 'SOURCE_PROBS', 'SOURCE_AND_TARGET',
    'TARGET_FEATURES_BY_IMAGE', 'FeatureStats', 'HScoreAccumulator',
    'LogMEAccumulator', 'LEEPAccumulator', 'NCEAccumulator'
]

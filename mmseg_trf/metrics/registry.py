"""Registry of the transferability metrics by name."""
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from .ccfv import ccfv
from .gbc import gbc
from .hscore import hscore, regularized_hscore
from .leep import leep, nce, nleep
from .logme import logme
from .otce import otce
from .streaming import (HScoreAccumulator, LEEPAccumulator, LogMEAccumulator,
                        NCEAccumulator)
from .transrate import transrate

#: ``fn(features, labels)`` on the target's pixel features.
TARGET_FEATURES = 'target_features'
#: ``fn(probs, labels)`` on the source model's softmax at target pixels.
SOURCE_PROBS = 'source_probs'
#: ``fn(src_features, src_labels, tgt_features, tgt_labels)``.
SOURCE_AND_TARGET = 'source_and_target'
#: ``fn(features, labels, images)``: target features with the image of
#: each pixel.
TARGET_FEATURES_BY_IMAGE = 'target_features_by_image'


@dataclass(frozen=True)
class MetricSpec:
    """What a metric computes from and how.

    Args:
        name (str): Registry key.
        fn (callable): The in-memory metric.
        inputs (str): :data:`TARGET_FEATURES`, :data:`SOURCE_PROBS`,
            :data:`SOURCE_AND_TARGET` or :data:`TARGET_FEATURES_BY_IMAGE`.
        accumulator (type, optional): Streaming class over all pixels.
    """

    name: str
    fn: Callable[..., float]
    inputs: str
    accumulator: Optional[type]


METRICS: Dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec('otce', otce, SOURCE_AND_TARGET, None),
        MetricSpec('leep', leep, SOURCE_PROBS, LEEPAccumulator),
        MetricSpec('nce', nce, SOURCE_PROBS, NCEAccumulator),
        MetricSpec('logme', logme, TARGET_FEATURES, LogMEAccumulator),
        MetricSpec('hscore', hscore, TARGET_FEATURES, HScoreAccumulator),
        MetricSpec('regularized_hscore', regularized_hscore, TARGET_FEATURES,
                   None),
        MetricSpec('gbc', gbc, TARGET_FEATURES, None),
        MetricSpec('transrate', transrate, TARGET_FEATURES, None),
        MetricSpec('nleep', nleep, TARGET_FEATURES, None),
        MetricSpec('ccfv', ccfv, TARGET_FEATURES_BY_IMAGE, None),
    )
}


def get_metric(name: str) -> MetricSpec:
    """Look a metric up by name.

    Args:
        name (str): A key of :data:`METRICS`.

    Returns:
        MetricSpec: Its specification.
    """
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f'unknown metric {name!r}; available: '
                         f'{", ".join(METRICS)}') from None


__all__ = [
    'METRICS', 'MetricSpec', 'get_metric', 'TARGET_FEATURES', 'SOURCE_PROBS',
    'SOURCE_AND_TARGET'
]

"""Entry points: score sources for a target, load segmentors, switch
weighting on, pick zoo sources, write reports. What they run on lives in
:mod:`mmseg_trf.pixels` (features, pools, caches) and
:mod:`mmseg_trf.maps`."""
from .model import load_config, load_segmentor, load_weights
from .report import write_reports
from .scoring import (LAYERS, MetricResult, ScoringSettings, SourceResult,
                      SourceSpec, dataset_config, score_model, score_source,
                      score_sources)
from .weighting import enable_weighting
from .zoo import zoo_sources

__all__ = [
    'load_config', 'load_segmentor', 'load_weights', 'write_reports', 'LAYERS',
    'MetricResult', 'ScoringSettings', 'SourceResult', 'SourceSpec',
    'dataset_config', 'score_model', 'score_source', 'score_sources',
    'zoo_sources', 'enable_weighting'
]

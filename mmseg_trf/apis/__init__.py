"""Running the metrics on live MMSeg segmentors and datasets."""
from .cache import ArrayCache, cache_key
from .features import (build_dataset, extract_pool, feature_grid, forward_taps,
                       iterate_pixel_features, read_label_maps)
from .model import (ConvSegTap, classifier_head, load_config, load_segmentor,
                    load_weights)
from .report import write_reports
from .scoring import (LAYERS, MetricResult, ScoringSettings, SourceResult,
                      SourceSpec, dataset_config, score_source, score_sources)
from .weighting import enable_weighting
from .zoo import zoo_sources

__all__ = [
    'ArrayCache', 'cache_key', 'build_dataset', 'extract_pool', 'feature_grid',
    'forward_taps', 'iterate_pixel_features', 'read_label_maps', 'ConvSegTap',
    'classifier_head', 'load_config', 'load_segmentor', 'load_weights',
    'write_reports', 'LAYERS', 'MetricResult', 'ScoringSettings',
    'SourceResult', 'SourceSpec', 'dataset_config', 'score_source',
    'score_sources', 'zoo_sources', 'enable_weighting'
]

"""Pixel features of live MMSeg segmentors: where they are read (the
classifier's taps), how labelled pixels pair with them, pools of sampled
pixels and the content-keyed caches that keep them."""
from .cache import (ArrayCache, cache_key, checkpoint_identity,
                    dataset_fingerprint, model_digest)
from .features import (build_dataset, extract_pool, feature_grid,
                       forward_images, forward_taps, iterate_pixel_features,
                       read_label_maps)
from .pools import PixelData, SampledSide, run_pass, sampled_pixels
from .taps import ConvSegTap, classifier_head, layer_channels

__all__ = [
    'ArrayCache', 'cache_key', 'checkpoint_identity', 'dataset_fingerprint',
    'model_digest', 'build_dataset', 'extract_pool', 'feature_grid',
    'forward_images', 'forward_taps', 'iterate_pixel_features',
    'read_label_maps', 'PixelData', 'SampledSide', 'run_pass',
    'sampled_pixels', 'ConvSegTap', 'classifier_head', 'layer_channels'
]

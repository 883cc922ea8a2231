"""Transferability maps: eq. 3 per patch, eq. 4 weights, the saved map, and
the builder that makes them from a live segmentor.

Everything but :mod:`~mmseg_trf.maps.builder` is free of MMSeg (numpy,
torch, POT); the private modules are re-exported here:

* ``_patches``: eq. 3 scorers (LEEP, LogME, OTCE through the metric core),
  the sparse-patch fill, the map from grids in memory;
* ``_bands``: grids kept on disk (:class:`GridStore`), scored a band at a
  time by one or several processes;
* ``_grid``: the map grid's size and its cells' label pixels;
* ``_image_maps``: per-image, per-pixel LEEP terms (instead of patches);
* ``_weights``: eq. 4, the seed code's rule, per-image weights, the
  controls, each pixel's weight;
* ``_map``: :class:`TransferabilityMap`, saved, loaded and validated.
"""
from ._bands import (BAND_BYTES, CELL_CHUNK, GridSide, GridStore, assemble_map,
                     banded_patch_scores, map_bands, store_bands)
from ._grid import (MAX_MAP_PIXELS, check_scratch_space, default_map_shape,
                    grid_positions)
from ._image_maps import image_leep_maps, pixel_leep_joint, pixel_leep_terms
from ._map import (MapFileError, MapSettings, TransferabilityMap,
                   settings_changes)
from ._patches import (MAP_METRICS, fill_sparse, leep_patches, logme_patches,
                       map_layer, otce_patches, patch_otce, patch_pixels,
                       patch_scores, transferability_map)
from ._weights import (CONTROLS, RULES, check_variant, class_balanced_weights,
                       control_weights, image_control_weights, image_weights,
                       seed_code_weights, weight_map, weights_at)

__all__ = [
    'BAND_BYTES', 'CELL_CHUNK', 'GridSide', 'GridStore', 'assemble_map',
    'banded_patch_scores', 'map_bands', 'store_bands', 'MAX_MAP_PIXELS',
    'check_scratch_space', 'default_map_shape', 'grid_positions',
    'MapFileError', 'MapSettings', 'TransferabilityMap', 'settings_changes',
    'MAP_METRICS', 'fill_sparse', 'leep_patches', 'logme_patches', 'map_layer',
    'otce_patches', 'patch_otce', 'patch_pixels', 'patch_scores',
    'transferability_map', 'CONTROLS', 'RULES', 'seed_code_weights',
    'check_variant', 'class_balanced_weights', 'control_weights', 'weight_map',
    'weights_at', 'image_weights', 'image_control_weights', 'image_leep_maps',
    'pixel_leep_joint', 'pixel_leep_terms'
]

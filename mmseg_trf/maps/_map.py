"""A patch transferability map (eq. 3) with its loss weights (eq. 4), saved,
loaded and validated as one object. No MMSeg import.

On disk (one folder): ``transferability.npy``, ``weight_map.npy``, the
sidecar ``weight_map.json`` (grid shape, patch size and whatever the caller
records: settings key, checkpoint, ...) and ``weight_map.png`` (the seed's
Fig. 5). Every file is written atomically; loading checks that the files
agree with each other and with eq. 4, so a corrupt or edited map is refused
instead of silently weighting the loss.
"""
import json
import os.path as osp
from dataclasses import dataclass
from functools import cached_property
from typing import Optional, Tuple

import numpy as np

from ..checks import check_number
from ..fileio import atomic_write, atomic_write_text
from ._patches import MAP_METRICS, map_layer
from ._weights import (RULES, check_variant, control_weights,
                       image_control_weights, image_weights, weights_at)

#: How far stored weights may stray from eq. 4 of the stored map (float32).
WEIGHT_RTOL = 1e-5


@dataclass
class MapSettings:
    """How a map is made.

    Args:
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        patch_size (int): Patch side on the map grid (the paper: 4).
        map_shape (tuple, optional): ``(H, W)`` of the grid; by default
            :func:`default_map_shape` of the first target label map.
        min_pixels (int): Fewest labelled pixels per patch.
        layer (str): ``'logits'`` or ``'pre_logits'`` (LEEP: logits).
        workers (int, optional): Processes scoring bands per rank; by
            default the cores per rank for maps of 4,096 patches or more.
        per_image (bool): One per-pixel map per image instead of patches
            pooled over the images (LEEP only; ``patch_size`` and
            ``min_pixels`` unused): :mod:`~mmseg_trf.maps._image_maps`.
    """

    metric: str = 'otce'
    patch_size: int = 4
    map_shape: Optional[Tuple[int, int]] = None
    min_pixels: int = 5
    layer: str = 'logits'
    workers: Optional[int] = None
    per_image: bool = False

    def __post_init__(self) -> None:
        if self.metric not in MAP_METRICS:
            raise ValueError(f'no transferability map for {self.metric!r}; '
                             f'choose one of {MAP_METRICS}')
        for name in ('patch_size', 'min_pixels', 'workers'):
            check_number(
                name,
                getattr(self, name),
                1,
                integer=True,
                optional=name == 'workers')
        self.layer = map_layer(self.metric, self.layer)
        if self.per_image and self.metric != 'leep':
            raise ValueError('per-image maps are per-pixel LEEP terms: '
                             f"per_image needs metric 'leep', got "
                             f'{self.metric!r}')
        self.map_shape = tuple(self.map_shape) if self.map_shape else None


class MapFileError(RuntimeError):
    """A stored map is missing, corrupt or inconsistent."""


class TransferabilityMap:
    """Transferability per patch of a map grid and its eq. 4 weights, or
    per pixel of each image (:mod:`~mmseg_trf.maps._image_maps`).

    Args:
        transferability (ndarray): ``(H // patch, W // patch)`` map ``t``
            pooled over the images; or per image ``(N, H, W)`` (NaN where
            unlabelled) with ``patch`` 1 and ``meta['images']`` naming the
            ``N`` images (their paths), each weighted over its own pixels
            (:func:`~mmseg_trf.maps.image_weights`).
        grid_shape (tuple): ``(H, W)`` of the map grid.
        patch (int): Patch side on the grid.
        meta (dict, optional): Provenance written to the sidecar.
        strength (float): Weight strength (1: eq. 4 as published; see
            :func:`~mmseg_trf.maps.weight_map`).
    """

    def __init__(self,
                 transferability: np.ndarray,
                 grid_shape: Tuple[int, int],
                 patch: int,
                 meta: Optional[dict] = None,
                 strength: float = 1.0) -> None:
        self.transferability = np.asarray(transferability, np.float64)
        self.grid_shape = tuple(int(s) for s in grid_shape)
        self.patch = int(patch)
        self.strength = float(strength)
        self.meta = dict(meta or {})
        expected = tuple(s // self.patch for s in self.grid_shape)
        if self.per_image:
            expected = (len(self.meta.get('images', ())), ) + expected
            if self.patch != 1:
                raise ValueError('per-image maps have 1-pixel patches')
        if self.transferability.shape != expected:
            raise ValueError(
                f'a {self.transferability.shape} map does not '
                f'fit a {self.grid_shape} grid of '
                f'{self.patch}-pixel patches' +
                (f' of {expected[0]} named images' if self.per_image else ''))

    @property
    def per_image(self) -> bool:
        """Whether each image has its own per-pixel map."""
        return self.transferability.ndim == 3

    @cached_property
    def weights(self) -> np.ndarray:
        """Eq. 4 weights of the map at this strength (computed once)."""
        return self._rule_weights('eq4', self.strength)

    def _rule_weights(self, rule: str, strength: float) -> np.ndarray:
        if self.per_image:
            return image_weights(self.transferability, strength, rule)
        return RULES[rule](self.transferability, strength)

    def variant(self,
                strength: float = 1.0,
                control: Optional[str] = None,
                seed: int = 0,
                rule: str = 'eq4') -> 'TransferabilityMap':
        """The same map with other weights, for finetuning variants: another
        ``strength``, the seed code's ``rule`` (see
        :data:`~mmseg_trf.maps.RULES`), and optionally a ``control`` (see
        :func:`~mmseg_trf.maps.control_weights`). Kept in memory; the saved
        map stays eq. 4 of the transferability map.

        Args:
            strength (float): Weight strength.
            control (str, optional): ``'shuffled'`` or ``'uniform'``.
            seed (int): Seed of the shuffled control.
            rule (str): ``'eq4'`` or ``'seed_code'``.

        Returns:
            TransferabilityMap: The variant (this map itself when nothing
            changes).
        """
        check_variant(strength, control, rule)
        if (strength, control, rule) == (self.strength, None, 'eq4'):
            return self
        twin = TransferabilityMap(self.transferability, self.grid_shape,
                                  self.patch,
                                  dict(self.meta, control=control,
                                       rule=rule), strength)
        weights = self._rule_weights(rule, strength)
        if control is not None and self.per_image:
            weights = image_control_weights(weights,
                                            np.isfinite(self.transferability),
                                            control, seed)
        elif control is not None:
            weights = control_weights(weights, control, seed)
        twin.weights = weights
        return twin

    def weights_at(self,
                   rows: np.ndarray,
                   cols: np.ndarray,
                   image_shape: Tuple[int, int],
                   image: Optional[str] = None) -> np.ndarray:
        """Weights of original-image pixels (see
        :func:`~mmseg_trf.maps.weights_at`).

        Args:
            rows, cols (ndarray): Pixel positions in the original image.
            image_shape (tuple): ``(h_img, w_img)`` of the original image.
            image (str, optional): Which image (its path); per-image maps
                need it, pooled maps ignore it.
        """
        weights = self.weights
        if self.per_image:
            images = self.meta['images']
            if image not in images:
                raise KeyError(
                    f'the per-image weight map has no image {image!r} (it '
                    f'holds the target dataset\'s {len(images)} images, '
                    f'e.g. {images[0]!r}): train on the images it was '
                    'computed on')
            weights = weights[images.index(image)]
        return weights_at(weights, self.patch, self.grid_shape, rows, cols,
                          image_shape)

    def save(self, folder: str) -> np.ndarray:
        """Write the arrays, the sidecar and the figure atomically.

        Returns:
            ndarray: The figure as an RGB image (for visualizers).
        """
        for name, array in (('transferability', self.transferability),
                            ('weight_map', self.weights)):
            atomic_write(
                osp.join(folder, f'{name}.npy'),
                lambda tmp, a=array: np.save(tmp, a))
        sidecar = dict(
            self.meta,
            grid_shape=list(self.grid_shape),
            patch=self.patch,
            strength=self.strength)
        atomic_write_text(
            osp.join(folder, 'weight_map.json'),
            json.dumps(sidecar, indent=2, default=str))
        figure = self.figure()
        atomic_write(
            osp.join(folder, 'weight_map.png'),
            lambda tmp: figure.savefig(tmp, dpi=110, format='png'))
        figure.canvas.draw()
        rgb = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
        import matplotlib.pyplot as plt
        plt.close(figure)
        return rgb

    @classmethod
    def load(cls, folder: str) -> 'TransferabilityMap':
        """Read a saved map, refusing one whose files disagree.

        Raises:
            MapFileError: A file is missing or unreadable, the arrays do not
                fit the sidecar's grid, or the stored weights are not eq. 4
                of the stored map (e.g. edited, or out of ``[1, e]``).
        """
        try:
            with open(osp.join(folder, 'weight_map.json')) as f:
                meta = json.load(f)
            grid, patch = meta.pop('grid_shape'), meta.pop('patch')
            strength = meta.pop('strength', 1.0)
            transferability = np.load(osp.join(folder, 'transferability.npy'))
            stored = np.load(osp.join(folder, 'weight_map.npy'))
            loaded = cls(transferability, grid, patch, meta, strength)
        except (OSError, ValueError, KeyError, TypeError, EOFError) as err:
            raise MapFileError(f'weight map in {folder} is missing or '
                               f'corrupt: {err}') from err
        if stored.shape != loaded.weights.shape or not np.allclose(
                stored, loaded.weights, rtol=WEIGHT_RTOL, atol=0):
            raise MapFileError(
                f'weight map in {folder} is not eq. 4 of its transferability '
                f'map (weights {np.nanmin(stored):.4g}..'
                f'{np.nanmax(stored):.4g}, expected 1..'
                f'{1 + strength * (np.e - 1):.4g}): delete the folder to '
                'recompute it')
        return loaded

    @classmethod
    def reusable(cls, folder: str, settings: dict, weights: str,
                 resumed: bool) -> Optional['TransferabilityMap']:
        """The map saved in ``folder`` if it may be reused, else ``None``.

        It may if it was made with ``settings`` and, unless the run resumes,
        by the model whose weights digest is ``weights``. A resumed run must
        find it: its map comes from the source checkpoint, and recomputing
        it from the partly finetuned model would replace it.

        Args:
            folder (str): Where the map is saved.
            settings (dict): The map's settings (sidecar ``settings``).
            weights (str): Digest of the current model's weights (sidecar
                ``weights``).
            resumed (bool): Whether the run resumes.

        Raises:
            MapFileError: A resumed run finds no valid map of these
                settings.
        """
        try:
            stored = cls.load(folder)
        except MapFileError:
            if resumed:
                raise
            return None
        differ = settings_changes(stored.meta.get('settings'), settings)
        if differ:
            if resumed:
                raise MapFileError(
                    f'the weight map in {folder} was made with other '
                    f'settings than this resumed run ({differ}): delete the '
                    'folder to recompute it from the current model')
            return None
        if resumed or stored.meta.get('weights') == weights:
            return stored
        return None

    def figure(self):
        """The seed's Fig. 5: transferability and weight maps side by side.
        """
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        metric = self.meta.get('metric', '')
        shown = (self.transferability[0], self.weights[0],
                 ' (first image)') if self.per_image else (
                     self.transferability, self.weights, '')
        for ax, data, title in ((axes[0], shown[0],
                                 f'{metric} transferability'.strip() +
                                 shown[2]), (axes[1], shown[1],
                                             'loss weight (eq. 4)')):
            image = ax.imshow(data, cmap='viridis')
            ax.set_title(title)
            ax.axis('off')
            fig.colorbar(image, ax=ax, fraction=0.03)
        fig.tight_layout()
        return fig


def settings_changes(stored, current: dict) -> str:
    """What differs between a saved map's settings and the current ones
    (``'patch 4 -> 8, layer logits -> pre_logits'``); empty if nothing."""
    current = json.loads(json.dumps(current, default=str))
    if not isinstance(stored, dict):
        return 'saved by an older version, which kept no settings'
    return ', '.join(f'{key} {stored.get(key)!r} -> {current.get(key)!r}'
                     for key in sorted(set(stored) | set(current))
                     if stored.get(key) != current.get(key))


__all__ = [
    'MapSettings', 'TransferabilityMap', 'MapFileError', 'settings_changes'
]

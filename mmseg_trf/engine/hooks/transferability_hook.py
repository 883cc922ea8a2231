"""Score the model being finetuned and feed transferability weights to
:class:`~mmseg_trf.models.losses.TrfWeightedCrossEntropyLoss`."""
import hashlib
import json
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS

from ...apis.cache import (ArrayCache, atomic_write, atomic_write_text,
                           cache_key, dataset_fingerprint)
from ...apis.features import build_dataset
from ...apis.patch_maps import map_inputs
from ...apis.scoring import ScoringSettings, dataset_config, score_model
from ...models.losses import TrfWeightedCrossEntropyLoss
from ...sampling import SamplingSettings
from ...transfer_map import transferability_map, weight_map, weights_at
from ...version import __version__


def _weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of the model's parameters and buffers."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@HOOKS.register_module()
class TransferabilityHook(Hook):
    """Transferability of the model on its target, and loss weights from it.

    In ``before_train`` (after ``load_from``/``resume`` loaded the source
    checkpoint) the hook, in eval mode and without gradients:

    1. scores the model on the target train images with ``metrics``
       (K repetitions of N sampled pixels), logs the scores (logger,
       message hub ``trf/<metric>``, visualizer scalars) and writes
       ``<work_dir>/<out_dir>/scores.json``;
    2. computes the patch transferability map (eq. 3) of ``map_metric`` and
       its weight map (eq. 4), written atomically as
       ``transferability.npy``, ``weight_map.npy``, ``weight_map.json`` (the
       sidecar: checkpoint, datasets, metric, patch size, map and image size,
       package version) and ``weight_map.png`` (also sent to the
       visualizer). A resumed run reuses a map made with the same settings;
       changed settings recompute it.

    Before every training iteration it looks up each pixel's weight from the
    map through the ``gt_coord_map`` the pipeline carried
    (``AddPixelCoordinates`` + ``PackTrfInputs``) and hands the batch's
    weights to every ``TrfWeightedCrossEntropyLoss`` in the model. Under
    torch.distributed all ranks extract features, rank 0 computes and writes
    the map, and all ranks wait for it and read it.

    Args:
        metrics (Sequence[str]): Model-level scores to log.
        map_metric (str, optional): ``'otce'``, ``'leep'`` or ``'logme'`` for
            the weight map; ``None`` only scores.
        num_pixels (int): N pixels per repetition of the scores.
        repetitions (int): K repetitions.
        sampler (str): ``'uniform'`` or ``'balanced'``.
        patch_size (int): Patch side on the map grid (the paper: 4).
        map_shape (tuple, optional): Map grid ``(H, W)``; default: the label
            size halved until at most 512 x 1024.
        min_pixels (int): Fewest labelled pixels a patch needs.
        target_dataset (dict | str, optional): The target images; default:
            the train dataset with the config's ``test_pipeline``.
        source_dataset (dict | str, optional): The source's training data,
            needed by OTCE (scores and maps).
        source_images (int): Source images used.
        layer (str): ``'logits'`` or ``'pre_logits'`` pixel features.
        otce_solver (str): OT solver of the model-level OTCE.
        interval (int, optional): Recompute scores and map every this many
            iterations (with the finetuned model); ``None``: only at start.
        out_dir (str): Folder under the work dir.
        batch_size (int): Images per forward pass while scoring.
        seed (int): Sampling seed.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 metrics: Sequence[str] = ('otce', 'leep', 'logme'),
                 map_metric: Optional[str] = 'otce',
                 num_pixels: int = 10000,
                 repetitions: int = 10,
                 sampler: str = 'uniform',
                 patch_size: int = 4,
                 map_shape: Optional[Tuple[int, int]] = None,
                 min_pixels: int = 5,
                 target_dataset: Optional[Union[dict, str]] = None,
                 source_dataset: Optional[Union[dict, str]] = None,
                 source_images: int = 20,
                 layer: str = 'logits',
                 otce_solver: str = 'sparse_emd',
                 interval: Optional[int] = None,
                 out_dir: str = 'trf',
                 batch_size: int = 1,
                 seed: int = 0) -> None:
        self.settings = ScoringSettings(
            metrics=tuple(metrics),
            sampling=SamplingSettings(
                sampler, num_pixels, repetitions, seed=seed),
            layer=layer,
            source_images=source_images,
            otce_solver=otce_solver,
            batch_size=batch_size)
        if map_metric not in (None, 'otce', 'leep', 'logme'):
            raise ValueError(f'map_metric must be otce, leep, logme or None, '
                             f'got {map_metric!r}')
        self.map_metric = map_metric
        self.patch_size = patch_size
        self.map_shape = tuple(map_shape) if map_shape else None
        self.min_pixels = min_pixels
        self.target_dataset = target_dataset
        self.source_dataset = source_dataset
        self.interval = interval
        self.out_dir = out_dir
        self.weights: Optional[np.ndarray] = None
        self.grid_shape: Optional[Tuple[int, int]] = None
        self.source_file: Optional[str] = None

    # Configuration ----------------------------------------------------
    def _target_cfg(self, runner) -> dict:
        if isinstance(self.target_dataset, str):
            return dataset_config(self.target_dataset)
        if isinstance(self.target_dataset, dict):
            return dict(self.target_dataset)
        dataset = runner.cfg.train_dataloader.dataset.to_dict()
        if 'test_pipeline' not in runner.cfg:
            raise ValueError('TransferabilityHook needs target_dataset or a '
                             'test_pipeline in the config')
        dataset['pipeline'] = runner.cfg.test_pipeline
        return dataset

    def _source_file(self, runner) -> Optional[str]:
        """The source dataset as a config file (scoring reads files); a
        collective call when it has to be written."""
        if self.source_dataset is None or isinstance(self.source_dataset, str):
            return self.source_dataset
        path = osp.join(runner.work_dir, self.out_dir, 'source_dataset.py')
        if is_main_process():
            atomic_write_text(path, f'trf_dataset = {self.source_dataset!r}\n')
        barrier()
        return path

    # Hook stages ----------------------------------------------------------
    def before_train(self, runner) -> None:
        """Score the loaded model and compute (or reuse) the weight map."""
        self._refresh(runner, reuse=True)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Recompute every ``interval`` iterations, if asked to."""
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._refresh(runner, reuse=False)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """Hand this batch's pixel weights to the weighted losses."""
        losses = self._weighted_losses(runner)
        if not losses:
            return
        if self.weights is None:
            raise RuntimeError('TrfWeightedCrossEntropyLoss needs a weight '
                               'map: set map_metric of TransferabilityHook')
        weights = [
            self._sample_weights(sample)
            for sample in data_batch['data_samples']
        ]
        for loss in losses:
            loss.set_pixel_weights(weights)

    # Work -------------------------------------------------------------------
    @staticmethod
    def _model(runner) -> torch.nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _weighted_losses(self, runner):
        return [
            m for m in self._model(runner).modules()
            if isinstance(m, TrfWeightedCrossEntropyLoss)
        ]

    def _sample_weights(self, sample) -> torch.Tensor:
        if 'gt_coord_map' not in sample:
            raise RuntimeError(
                'the train pipeline must carry pixel coordinates for the '
                'weighted loss: add AddPixelCoordinates after '
                'LoadAnnotations and use PackTrfInputs')
        coords = sample.gt_coord_map.data[0].numpy()
        width = sample.metainfo['ori_shape'][1]
        weights = weights_at(self.weights, self.patch_size, self.grid_shape,
                             coords // width, coords % width,
                             sample.metainfo['ori_shape'][:2])
        return torch.from_numpy(weights)

    def _refresh(self, runner, reuse: bool) -> None:
        self.source_file = self._source_file(runner)
        model = self._model(runner)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                self._log_scores(runner, model)
                if self.map_metric:
                    self._update_map(runner, model, reuse)
        finally:
            model.train(was_training)

    def _log_scores(self, runner, model) -> None:
        if not self.settings.metrics:
            return
        runner.logger.info('TransferabilityHook: scoring the model on the '
                           'target with ' + ', '.join(self.settings.metrics))
        results, seconds = score_model(
            model, _weights_digest(model), self._target_cfg(runner),
            self.source_file, self.settings,
            ArrayCache(osp.join(runner.work_dir, self.out_dir, 'cache')))
        shared = [results]
        broadcast_object_list(shared)
        scores = {
            name: r.mean
            for name, r in shared[0].items() if r.error is None
        }
        for name, result in shared[0].items():
            if result.error:
                runner.logger.warning(f'TransferabilityHook: {name} failed: '
                                      f'{result.error}')
            else:
                runner.logger.info(f'TransferabilityHook: {name} = '
                                   f'{result.mean:.4f} +- {result.std:.4f} '
                                   f'({result.seconds:.1f} s)')
                runner.message_hub.update_scalar(f'trf/{name}', result.mean)
        if scores:
            runner.visualizer.add_scalars(
                {
                    f'trf/{k}': v
                    for k, v in scores.items()
                }, step=runner.iter)
        if is_main_process():
            record = dict(
                iter=runner.iter,
                extract_seconds=seconds,
                scores={
                    k: vars(v)
                    for k, v in shared[0].items()
                })
            atomic_write_text(
                osp.join(runner.work_dir, self.out_dir, 'scores.json'),
                json.dumps(record, indent=2))

    def _settings_key(self, runner) -> dict:
        target = build_dataset(self._target_cfg(runner))
        return dict(
            metric=self.map_metric,
            patch=self.patch_size,
            map_shape=self.map_shape,
            min_pixels=self.min_pixels,
            layer=self.settings.layer,
            source_images=self.settings.source_images,
            seed=self.settings.sampling.seed,
            target=dataset_fingerprint(target, range(len(target))),
            source=self.source_file if self.map_metric == 'otce' else None,
            version=__version__)

    def _update_map(self, runner, model, reuse: bool) -> None:
        folder = osp.join(runner.work_dir, self.out_dir)
        sidecar_path = osp.join(folder, 'weight_map.json')
        settings = cache_key(**self._settings_key(runner))
        digest = _weights_digest(model)
        sidecar = _read_json(sidecar_path)
        resumed = bool(runner.cfg.get('resume'))
        usable = (
            reuse and sidecar is not None
            and sidecar.get('settings') == settings
            and (resumed or sidecar.get('weights') == digest))
        if not usable:
            self._compute_map(runner, model, folder, settings, digest)
        barrier()
        self._load_map(folder)
        runner.logger.info(
            f'TransferabilityHook: {"reused" if usable else "computed"} the '
            f'{self.map_metric} weight map {self.weights.shape} (weights '
            f'{self.weights.min():.3f}..{self.weights.max():.3f}) in {folder}')

    def _compute_map(self, runner, model, folder: str, settings: str,
                     digest: str) -> None:
        runner.logger.info(f'TransferabilityHook: computing the '
                           f'{self.map_metric} transferability map')
        inputs = map_inputs(
            model, self._target_cfg(runner), self.map_metric, self.map_shape,
            dataset_config(self.source_file) if self.map_metric == 'otce' else
            None, self.settings.source_images, self.settings.layer,
            self.settings.batch_size, self.settings.sampling.seed)
        if not is_main_process():
            return
        grid = inputs.pop('map_shape')
        t_map = transferability_map(
            patch=self.patch_size,
            min_pixels=self.min_pixels,
            progress=_row_progress(grid[0] // self.patch_size, grid[1] //
                                   self.patch_size)
            if self.map_metric == 'otce' else None,
            **inputs)
        weights = weight_map(t_map)
        for name, array in (('transferability', t_map), ('weight_map',
                                                         weights)):
            atomic_write(
                osp.join(folder, f'{name}.npy'),
                lambda tmp, a=array: np.save(tmp, a))
        meta = dict(
            settings=settings,
            weights=digest,
            iter=runner.iter,
            checkpoint=runner.cfg.get('load_from'),
            metric=self.map_metric,
            patch_size=self.patch_size,
            map_shape=list(grid),
            image_shape=list(inputs['tgt_labels'].shape[1:]),
            target=self._target_cfg(runner).get('data_root'),
            source=self.source_file,
            mmseg_trf=__version__)
        atomic_write_text(
            osp.join(folder, 'weight_map.json'),
            json.dumps(meta, indent=2, default=str))
        self._save_figure(runner, folder, t_map, weights)

    def _load_map(self, folder: str) -> None:
        meta = _read_json(osp.join(folder, 'weight_map.json'))
        path = osp.join(folder, 'weight_map.npy')
        try:
            weights = np.load(path)
        except (OSError, ValueError) as err:
            raise RuntimeError(f'weight map {path} is missing or corrupt: '
                               f'{err}') from err
        if meta is None or list(weights.shape) != [
                s // meta['patch_size'] for s in meta['map_shape']
        ] or not np.isfinite(weights).all():
            raise RuntimeError(f'weight map {path} does not match its '
                               f'sidecar {meta}')
        self.weights = weights
        self.grid_shape = tuple(meta['map_shape'])

    def _save_figure(self, runner, folder: str, t_map: np.ndarray,
                     weights: np.ndarray) -> None:
        """The seed's Fig. 5: transferability and weight maps."""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        for ax, data, title in ((axes[0], t_map,
                                 f'{self.map_metric} transferability'),
                                (axes[1], weights, 'loss weight (eq. 4)')):
            image = ax.imshow(data, cmap='viridis')
            ax.set_title(title)
            ax.axis('off')
            fig.colorbar(image, ax=ax, fraction=0.03)
        fig.tight_layout()
        fig.canvas.draw()
        rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        atomic_write(
            osp.join(folder, 'weight_map.png'),
            lambda tmp: fig.savefig(tmp, dpi=110, format='png'))
        plt.close(fig)
        runner.visualizer.add_image('trf_weight_map', rgb, step=runner.iter)


def _row_progress(rows: int, cols: int):
    """A per-patch callback that advances a progress bar once per row."""
    bar, count = ProgressBar(rows), [0]

    def step():
        count[0] += 1
        if count[0] % cols == 0:
            bar.update()

    return step


def _read_json(path: str) -> Optional[Dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

"""Score the model being finetuned and feed transferability weights to
:class:`~mmseg_trf.models.losses.TrfWeightedCrossEntropyLoss`."""
import hashlib
import json
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import barrier, broadcast_object_list, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ...apis.cache import ArrayCache, dataset_fingerprint
from ...apis.features import build_dataset
from ...apis.patch_maps import compute_map
from ...apis.scoring import ScoringSettings, dataset_config, score_model
from ...checks import check_number
from ...fileio import atomic_write_text
from ...models.losses import TrfWeightedCrossEntropyLoss
from ...sampling import SamplingSettings
from ...transfer_map import CONTROLS, MAP_METRICS
from ...version import __version__
from ...weight_maps import TransferabilityMap


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
    checkpoint), in eval mode without gradients, the hook scores the model
    on the target train images with ``metrics`` (logged, sent to the message
    hub as ``trf/<metric>`` and written to ``<out_dir>/scores.json``) and
    builds the patch transferability map (eq. 3) of ``map_metric`` with its
    weights (eq. 4) (:func:`~mmseg_trf.apis.patch_maps.compute_map`), saved
    in ``<work_dir>/<out_dir>`` (:class:`~mmseg_trf.weight_maps.
    TransferabilityMap`). A map made by the same model with the same
    settings is reused; a resumed run must find its map and never replaces
    it with one of the partly finetuned model. Before each iteration every
    pixel's weight is looked up through the ``gt_coord_map`` the pipeline
    carried (``AddPixelCoordinates`` + ``PackTrfInputs``) and handed to
    every ``TrfWeightedCrossEntropyLoss`` in the model.

    Args:
        metrics (Sequence[str]): Model-level scores to log.
        map_metric (str, optional): ``'otce'``, ``'leep'`` or ``'logme'``;
            ``None`` only scores.
        num_pixels (int): N pixels per repetition of the scores.
        repetitions (int): K repetitions.
        sampler (str): ``'uniform'`` or ``'balanced'``.
        patch_size (int): Patch side on the map grid (the paper: 4).
        map_shape (tuple, optional): Map grid ``(H, W)``; default: the label
            size halved until at most 512 x 1024.
        min_pixels (int): Fewest labelled pixels a patch needs.
        target_dataset (dict | str, optional): The target images; default:
            the train dataset with the config's ``test_pipeline``.
        source_dataset (dict | str, optional): The source's training data;
            required by an OTCE map.
        source_images (int): Source images used.
        layer (str): ``'logits'`` or ``'pre_logits'`` pixel features.
        otce_solver (str): OT solver of the model-level OTCE.
        interval (int, optional): Recompute scores and map every this many
            iterations (with the finetuned model); ``None``: only at start.
        out_dir (str): Folder under the work dir.
        batch_size (int): Images per forward pass while scoring.
        workers (int, optional): Processes scoring map patches per rank.
        seed (int): Sampling seed.
        strength (float): Weights on ``[1, 1 + strength (e - 1)]`` (1: eq.
            4 as published).
        control (str, optional): ``'shuffled'`` (the map's weights at
            random places) or ``'uniform'`` (their mean everywhere): the
            controls of a weighting study. The saved map is the real one.
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
                 workers: Optional[int] = None,
                 seed: int = 0,
                 strength: float = 1.0,
                 control: Optional[str] = None) -> None:
        self.settings = ScoringSettings(
            metrics=tuple(metrics),
            sampling=SamplingSettings(
                sampler, num_pixels, repetitions, seed=seed),
            layer=layer,
            source_images=source_images,
            otce_solver=otce_solver,
            batch_size=batch_size)
        if map_metric not in (None, ) + MAP_METRICS:
            raise ValueError(f'map_metric must be one of {MAP_METRICS} or '
                             f'None, got {map_metric!r}')
        if map_metric == 'otce' and source_dataset is None:
            raise ValueError(
                "map_metric='otce' needs source_dataset (the source model's "
                'training data as a dataset config dict or file; '
                '--trf-source-dataset with tools/train.py), or choose '
                "map_metric='leep' or 'logme'")
        for name, value, optional in (('patch_size', patch_size,
                                       False), ('min_pixels', min_pixels,
                                                False), ('source_images',
                                                         source_images, False),
                                      ('batch_size', batch_size,
                                       False), ('interval', interval, True),
                                      ('workers', workers, True)):
            check_number(name, value, 1, integer=True, optional=optional)
        check_number('strength', strength, 0)
        self.map_metric, self.patch_size = map_metric, patch_size
        self.map_shape = tuple(map_shape) if map_shape else None
        self.min_pixels, self.interval = min_pixels, interval
        self.target_dataset, self.source_dataset = (target_dataset,
                                                    source_dataset)
        if control not in (None, ) + CONTROLS:
            raise ValueError(f'control must be one of {CONTROLS} or None, '
                             f'got {control!r}')
        self.out_dir, self.workers = out_dir, workers
        self.strength, self.control = strength, control
        self.map: Optional[TransferabilityMap] = None

    def before_train(self, runner) -> None:
        """Score the loaded model and compute (or reuse) the weight map."""
        self._refresh(runner, resumed=bool(runner.cfg.get('resume')))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Recompute every ``interval`` iterations, if asked to."""
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._refresh(runner, resumed=False, refresh=True)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """Hand this batch's pixel weights to the weighted losses."""
        model = self._model(runner)
        losses = [
            m for m in model.modules()
            if isinstance(m, TrfWeightedCrossEntropyLoss)
        ]
        if not losses:
            return
        if self.map is None:
            raise RuntimeError('TrfWeightedCrossEntropyLoss needs a weight '
                               'map: set map_metric of TransferabilityHook')
        weights = [self._pixel_weights(s) for s in data_batch['data_samples']]
        for loss in losses:
            loss.set_pixel_weights(weights)

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _pixel_weights(self, sample) -> torch.Tensor:
        if 'gt_coord_map' not in sample:
            raise RuntimeError(
                'the train pipeline must carry pixel coordinates for the '
                'weighted loss: add AddPixelCoordinates after '
                'LoadAnnotations and use PackTrfInputs')
        coords = sample.gt_coord_map.data[0].numpy()
        shape = sample.metainfo['ori_shape'][:2]
        return torch.from_numpy(
            self.map.weights_at(coords // shape[1], coords % shape[1], shape))

    def _target_cfg(self, runner) -> dict:
        if self.target_dataset is not None:
            return dataset_config(self.target_dataset)
        if 'test_pipeline' not in runner.cfg:
            raise ValueError('TransferabilityHook needs target_dataset or a '
                             'test_pipeline in the config')
        return dict(
            runner.cfg.train_dataloader.dataset.to_dict(),
            pipeline=runner.cfg.test_pipeline)

    def _refresh(self, runner, resumed: bool, refresh: bool = False) -> None:
        model = self._model(runner)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                digest = _weights_digest(model)
                target_cfg = self._target_cfg(runner)
                self._log_scores(runner, model, digest, target_cfg)
                if self.map_metric:
                    self.map = self._weight_map(
                        runner, model, digest, build_dataset(target_cfg),
                        resumed, refresh).variant(self.strength, self.control,
                                                  self.settings.sampling.seed)
        finally:
            model.train(was_training)

    def _log_scores(self, runner, model, digest: str,
                    target_cfg: dict) -> None:
        if not self.settings.metrics:
            return
        results, seconds = score_model(
            model, digest, target_cfg, self.source_dataset, self.settings,
            ArrayCache(osp.join(runner.work_dir, self.out_dir, 'cache')))
        shared = [results]
        broadcast_object_list(shared)
        for name, result in shared[0].items():
            if result.error:
                runner.logger.warning(f'TransferabilityHook: {name} failed: '
                                      f'{result.error}')
                continue
            runner.logger.info(f'TransferabilityHook: {name} = '
                               f'{result.mean:.4f} +- {result.std:.4f} '
                               f'({result.seconds:.1f} s)')
            runner.message_hub.update_scalar(f'trf/{name}', result.mean)
            runner.visualizer.add_scalars({f'trf/{name}': result.mean},
                                          step=runner.iter)
        if is_main_process():
            atomic_write_text(
                osp.join(runner.work_dir, self.out_dir, 'scores.json'),
                json.dumps(
                    dict(
                        iter=runner.iter,
                        extract_seconds=seconds,
                        scores={
                            k: vars(v)
                            for k, v in shared[0].items()
                        }),
                    indent=2))

    def _weight_map(self, runner, model, digest: str, target, resumed: bool,
                    refresh: bool) -> TransferabilityMap:
        folder = osp.join(runner.work_dir, self.out_dir)
        settings = dict(
            metric=self.map_metric,
            patch=self.patch_size,
            map_shape=self.map_shape,
            min_pixels=self.min_pixels,
            layer=self.settings.layer,
            source_images=self.settings.source_images,
            seed=self.settings.sampling.seed,
            target=dataset_fingerprint(target, range(len(target))),
            source=self.source_dataset,
            version=__version__)
        if not refresh:
            stored = TransferabilityMap.reusable(folder, settings, digest,
                                                 resumed)
            if stored is not None:
                runner.logger.info(f'TransferabilityHook: reused the '
                                   f'{self.map_metric} weight map in {folder}')
                return stored
        runner.logger.info(f'TransferabilityHook: computing the '
                           f'{self.map_metric} transferability map')
        source = (
            build_dataset(dataset_config(self.source_dataset))
            if self.map_metric == 'otce' else None)
        computed = compute_map(
            model, self.map_metric, target, source, self.patch_size,
            self.min_pixels, self.map_shape, self.settings.source_images,
            self.settings.layer, self.settings.batch_size,
            self.settings.sampling.seed, self.workers,
            osp.join(folder, 'scratch'),
            dict(
                settings=settings,
                weights=digest,
                iter=runner.iter,
                checkpoint=runner.cfg.get('load_from'),
                target=target.data_root,
                source=self.source_dataset,
                mmseg_trf=__version__))
        if is_main_process():
            figure = computed.save(folder)
            runner.visualizer.add_image(
                'trf_weight_map', figure, step=runner.iter)
        barrier()
        weights, meta = computed.weights, computed.meta
        runner.logger.info(
            f'TransferabilityHook: computed the {self.map_metric} weight map '
            f'{weights.shape} (weights {weights.min():.3f}..'
            f'{weights.max():.3f}; features {meta["extract_seconds"]} s, '
            f'patches {meta["score_seconds"]} s) in {folder}')
        return computed

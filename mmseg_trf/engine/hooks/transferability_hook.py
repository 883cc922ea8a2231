"""Score the model being finetuned and feed transferability weights to
:class:`~mmseg_trf.models.losses.TrfWeightedCrossEntropyLoss`."""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ...apis.scoring import dataset_config
from ...checks import check_number
from ...datasets.transforms import original_positions
from ...maps import check_variant
from ...maps.builder import MapBuilder
from ...models.losses import TrfWeightedCrossEntropyLoss
from ...pixels.cache import model_digest
from ...pixels.features import build_dataset


@HOOKS.register_module()
class TransferabilityHook(Hook):
    """Transferability of the model on its target, and loss weights from it.

    At the start and every ``interval`` iterations a
    :class:`~mmseg_trf.maps.builder.MapBuilder` scores the model on the
    target (logged as ``trf/<metric>``) and makes or reuses its map (eq. 3)
    and weights (eq. 4) in ``<work_dir>/<out_dir>``; before each iteration
    every pixel's weight goes to the model's ``TrfWeightedCrossEntropyLoss``.

    Args:
        target_dataset (dict | str, optional): The target images; default:
            the run's config (:func:`~mmseg_trf.apis.scoring.dataset_config`).
        source_dataset (dict | str, optional): The source's training data
            (an OTCE map needs it).
        interval (int, optional): Recompute every this many iterations.
        out_dir (str): Folder under the work dir.
        strength (float): Weights on ``[1, 1 + strength (e - 1)]``.
        control (str, optional): ``'shuffled'`` or ``'uniform'`` weights.
        weight_rule (str): ``'eq4'`` or ``'seed_code'`` (``exp(-t)``).
        **options: Metrics, sampling and map settings (``map_metric``,
            ``num_pixels``, ...): :meth:`~mmseg_trf.maps.builder.MapBuilder.
            from_options`.
    """

    priority = 'ABOVE_NORMAL'
    _name = 'TransferabilityHook'

    def __init__(self,
                 target_dataset: Optional[Union[dict, str]] = None,
                 source_dataset: Optional[Union[dict, str]] = None,
                 interval: Optional[int] = None,
                 out_dir: str = 'trf',
                 strength: float = 1.0,
                 control: Optional[str] = None,
                 weight_rule: str = 'eq4',
                 **options) -> None:
        self.builder = MapBuilder.from_options(**options)
        self.builder.check_source_given(source_dataset is not None)
        check_number('interval', interval, 1, integer=True, optional=True)
        check_variant(strength, control, weight_rule)
        self.datasets = (target_dataset, source_dataset)
        self.interval, self.out_dir = interval, out_dir
        self.variant = dict(
            strength=strength, control=control, rule=weight_rule)
        self.map, self.losses = None, None

    def before_train(self, runner) -> None:
        """Score the loaded model and compute (or reuse) the weight map."""
        self._refresh(runner, resumed=bool(runner.cfg.get('resume')))

    def after_train_iter(self, runner, batch_idx, **kwargs) -> None:
        """Recompute every ``interval`` iterations, if asked to."""
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._refresh(runner, reuse=False)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        """Hand this batch's pixel weights to the weighted losses."""
        if self.losses is None:  # found once
            self.losses = [
                m for m in self._model(runner).modules()
                if isinstance(m, TrfWeightedCrossEntropyLoss)
            ]
        if not self.losses:
            return
        if self.map is None:
            raise RuntimeError('TrfWeightedCrossEntropyLoss needs a weight '
                               'map: set map_metric of TransferabilityHook')
        weights = [
            torch.from_numpy(
                self.map.weights_at(
                    *original_positions(s), image=s.metainfo.get('img_path')))
            for s in data_batch['data_samples']
        ]
        for loss in self.losses:
            loss.set_pixel_weights(weights)

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _refresh(self, runner, resumed: bool = False, reuse=True) -> None:
        model = self._model(runner)
        was_training, folder = model.training, osp.join(
            runner.work_dir, self.out_dir)
        model.eval()
        try:
            with torch.no_grad():
                target_cfg, source_cfg = self.datasets
                target = build_dataset(
                    dataset_config(target_cfg or runner.cfg))
                source = build_dataset(
                    dataset_config(source_cfg)) if source_cfg else None
                done = self.builder.build(
                    model, model_digest(model), target, source, folder,
                    resumed, reuse,
                    dict(
                        iter=runner.iter,
                        checkpoint=runner.cfg.get('load_from'),
                        source=source_cfg))
        finally:
            model.train(was_training)
        for name, result in done.scores.items():
            if result.error:
                runner.logger.warning(f'{self._name}: {name}: {result.error}')
                continue
            runner.logger.info(f'{self._name}: {name} = {result.mean:.4f} '
                               f'+- {result.std:.4f} ({result.seconds:.1f} s)')
            runner.message_hub.update_scalar(f'trf/{name}', result.mean)
            runner.visualizer.add_scalars({f'trf/{name}': result.mean},
                                          step=runner.iter)
        if done.transfer_map is None:
            return
        if done.figure is not None:
            runner.visualizer.add_image(
                'trf_weight_map', done.figure, step=runner.iter)
        runner.logger.info(
            f'{self._name}: {"reused" if done.reused else "computed"} the '
            f'{done.transfer_map.meta["metric"]} weight map in {folder}')
        self.map = done.transfer_map.variant(
            seed=self.builder.scoring.sampling.seed, **self.variant)

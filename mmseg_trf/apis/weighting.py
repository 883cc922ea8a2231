"""Switch transferability-weighted finetuning on in any MMSeg config."""
import copy
from typing import Optional

from mmengine.config import Config

from ..utils.config_checks import leaf_datasets

LOSS_ARGS = ('loss_weight', 'class_weight', 'avg_non_ignore', 'reduction')


def coordinate_pipeline(pipeline: list) -> list:
    """A train pipeline that carries pixel coordinates: AddPixelCoordinates
    right after LoadAnnotations (unless the pipeline has it already),
    PackTrfInputs instead of PackSegInputs."""
    types = [t['type'] for t in pipeline]
    has_coordinates = 'AddPixelCoordinates' in types
    if 'LoadAnnotations' not in types or not {
            'PackSegInputs', 'PackTrfInputs'
    } & set(types):
        if has_coordinates:
            return pipeline
        raise ValueError('the train pipeline needs LoadAnnotations and '
                         'PackSegInputs to carry pixel coordinates')
    out = []
    for transform in pipeline:
        transform = copy.deepcopy(transform)
        if transform['type'] == 'PackSegInputs':
            transform['type'] = 'PackTrfInputs'
        out.append(transform)
        if transform['type'] == 'LoadAnnotations' and not has_coordinates:
            out.append(dict(type='AddPixelCoordinates'))
    return out


def weighted_loss(loss, normalize: str = 'pixels'):
    """``TrfWeightedCrossEntropyLoss`` in place of a (softmax)
    ``CrossEntropyLoss``, keeping its weight and reduction; ``normalize``
    as the weighted loss's."""
    if isinstance(loss, (list, tuple)):
        return [weighted_loss(item, normalize) for item in loss]
    if loss.get('type') != 'CrossEntropyLoss' or loss.get('use_sigmoid'):
        return loss
    kept = {k: loss[k] for k in LOSS_ARGS if k in loss}
    return dict(
        type='TrfWeightedCrossEntropyLoss', normalize=normalize, **kept)


def enable_weighting(cfg: Config,
                     map_metric: str = 'otce',
                     source_dataset: Optional[str] = None,
                     loss_normalize: str = 'pixels',
                     **hook_args) -> Config:
    """Transferability-weighted finetuning for an MMSeg training config.

    Adds :class:`TransferabilityHook` (replacing one already there), turns
    the decode head's ``CrossEntropyLoss`` into
    :class:`TrfWeightedCrossEntropyLoss`, and makes every training
    dataset's pipeline carry pixel coordinates.

    Args:
        cfg (Config): A training config (modified and returned).
        map_metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        source_dataset (str, optional): The source's training data config
            (OTCE).
        loss_normalize (str): ``'pixels'`` or ``'weights'`` (see
            :class:`TrfWeightedCrossEntropyLoss`).
        **hook_args: Further ``TransferabilityHook`` arguments.

    Returns:
        Config: The config.
    """
    imports = list(cfg.get('custom_imports', {}).get('imports', []))
    if 'mmseg_trf' not in imports:
        cfg.custom_imports = dict(
            imports=imports + ['mmseg_trf'], allow_failed_imports=False)
    hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h.get('type') != 'TransferabilityHook'
    ]
    hooks.append(
        dict(
            type='TransferabilityHook',
            map_metric=map_metric,
            source_dataset=source_dataset,
            **hook_args))
    cfg.custom_hooks = hooks
    head = cfg.model.decode_head
    heads = head if isinstance(head, list) else [head]
    final = heads[-1]
    final.loss_decode = weighted_loss(
        final.get('loss_decode', dict(type='CrossEntropyLoss')),
        loss_normalize)
    for dataset in leaf_datasets(cfg.train_dataloader.dataset):
        dataset.pipeline = coordinate_pipeline(dataset.pipeline)
    return cfg


__all__ = ['enable_weighting', 'coordinate_pipeline', 'weighted_loss']

"""Transferability-weighted cross-entropy (eq. 5 of the ICIP 2023 paper)."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmseg.models.losses import CrossEntropyLoss
from mmseg.registry import MODELS


@MODELS.register_module()
class TrfWeightedCrossEntropyLoss(CrossEntropyLoss):
    """Pixel cross-entropy scaled by the transferability weight of each
    pixel's image location (the paper's eq. 5).

    ``L = sum_i sum_(j,k) w^(j,k) CE_i^(j,k)``, normalised by default like
    MMSeg's ``CrossEntropyLoss``: divided by the number of pixels (or of
    non-ignored pixels with ``avg_non_ignore=True``); with every weight 1 it
    is exactly ``CrossEntropyLoss``, and with the weights of eq. 4 (in
    ``[1, e]``) the loss grows by at most ``e``. ``normalize='weights'``
    divides by the sum of the weights of the non-ignored pixels instead (a
    weighted mean, as the Transfer Risk Map paper normalises), which keeps
    the loss scale and so the effective learning rate. With
    ``class_weight`` each pixel's weight is also multiplied by its class's,
    and the loss is averaged over the labelled pixels by the sum of their
    class weights (times their transferability weights with
    ``normalize='weights'``), as PyTorch's weighted ``cross_entropy`` does;
    MMSeg's own averaging fails there on ignored labels (it indexes the
    class weights with 255).

    The weights of each batch come from :class:`TransferabilityHook`, which
    reads the cached weight map and the ``gt_coord_map`` the data pipeline
    carried (:class:`AddPixelCoordinates`); a batch without weights is an
    error, never a silent fall back to unweighted training.

    Args:
        use_sigmoid (bool): Must be False (softmax cross-entropy).
        class_weight (list[float] | str, optional): As ``CrossEntropyLoss``.
        reduction (str): As ``CrossEntropyLoss``.
        loss_weight (float): As ``CrossEntropyLoss``.
        loss_name (str): As ``CrossEntropyLoss``.
        avg_non_ignore (bool): As ``CrossEntropyLoss``.
        normalize (str): ``'pixels'`` (default) or ``'weights'``.
    """

    NORMALIZATIONS = ('pixels', 'weights')

    def __init__(self,
                 use_sigmoid: bool = False,
                 class_weight=None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_trf_ce',
                 avg_non_ignore: bool = False,
                 normalize: str = 'pixels') -> None:
        if normalize not in self.NORMALIZATIONS:
            raise ValueError(f'normalize must be one of '
                             f'{self.NORMALIZATIONS}, got {normalize!r}')
        if use_sigmoid:
            raise ValueError('TrfWeightedCrossEntropyLoss is a softmax '
                             'cross-entropy; use_sigmoid must be False')
        super().__init__(
            use_sigmoid=False,
            class_weight=class_weight,
            reduction=reduction,
            loss_weight=loss_weight,
            loss_name=loss_name,
            avg_non_ignore=avg_non_ignore)
        self.normalize = normalize
        self._pixel_weights: Optional[List[torch.Tensor]] = None

    def set_pixel_weights(self, weights: List[torch.Tensor]) -> None:
        """Weights of the next batch, one ``(H_i, W_i)`` map per image in
        batch order (before padding)."""
        self._pixel_weights = weights

    def batch_weights(self, label: torch.Tensor) -> torch.Tensor:
        """The pending weights padded (with 1, bottom/right, as the data
        preprocessor pads labels) to the label batch ``(N, H, W)``."""
        if self._pixel_weights is None:
            raise RuntimeError(
                'TrfWeightedCrossEntropyLoss received no pixel weights for '
                'this batch: add TransferabilityHook to custom_hooks and '
                'AddPixelCoordinates + PackTrfInputs to the train pipeline')
        weights, self._pixel_weights = self._pixel_weights, None
        if len(weights) != label.shape[0]:
            raise RuntimeError(f'{len(weights)} weight maps for a batch of '
                               f'{label.shape[0]} images')
        height, width = label.shape[-2:]
        padded = [
            F.pad(
                w.to(label.device, torch.float32),
                (0, width - w.shape[-1], 0, height - w.shape[-2]),
                value=1.0) for w in weights
        ]
        return torch.stack(padded)

    def _average_factor(self, weight: torch.Tensor, label: torch.Tensor,
                        ignore_index: int) -> Optional[torch.Tensor]:
        """The loss's denominator, or ``None`` to leave it to MMSeg."""
        if self.class_weight is None and self.normalize == 'pixels':
            return None
        valid = label != ignore_index
        factor = (weight if self.normalize == 'weights' else
                  torch.ones_like(weight)) * valid
        if self.class_weight is not None:
            classes = weight.new_tensor(self.class_weight)
            factor = factor * classes[label.clamp(0, len(classes) - 1)]
        return factor.sum().clamp_min(torch.finfo(weight.dtype).eps)

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor=None,
                reduction_override=None,
                ignore_index: int = -100,
                **kwargs) -> torch.Tensor:
        """Weighted cross-entropy of a batch.

        Args:
            cls_score (Tensor): ``(N, C, H, W)`` logits.
            label (Tensor): ``(N, H, W)`` labels.
            weight (Tensor, optional): Other per-pixel weights (a sampler's);
                multiplied with the transferability weights.
            avg_factor (int, optional): As ``CrossEntropyLoss``.
            reduction_override (str, optional): As ``CrossEntropyLoss``.
            ignore_index (int): Ignored label.

        Returns:
            Tensor: The loss.
        """
        pixel = self.batch_weights(label)
        weight = pixel if weight is None else pixel * weight
        reduction = reduction_override or self.reduction
        if avg_factor is None and reduction == 'mean':
            avg_factor = self._average_factor(weight, label, ignore_index)
        return super().forward(
            cls_score,
            label,
            weight=weight,
            avg_factor=avg_factor,
            reduction_override=reduction_override,
            ignore_index=ignore_index,
            **kwargs)

"""TrfWeightedCrossEntropyLoss is eq. 5 with MMSeg's normalisation."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.models.losses import CrossEntropyLoss
from mmseg.registry import MODELS

from mmseg_trf.models.losses import TrfWeightedCrossEntropyLoss


@pytest.fixture
def batch():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 6, 7)
    label = torch.randint(0, 5, (2, 6, 7))
    label[0, :2, :3] = 255
    weights = [1 + (math.e - 1) * torch.rand(6, 7) for _ in range(2)]
    return logits, label, weights


@pytest.mark.parametrize('avg_non_ignore, normalize', [(False, 'pixels'),
                                                       (True, 'pixels'),
                                                       (False, 'weights'),
                                                       (True, 'weights')])
def test_equation_5_by_hand(batch, avg_non_ignore, normalize):
    logits, label, weights = batch
    loss = TrfWeightedCrossEntropyLoss(
        avg_non_ignore=avg_non_ignore, normalize=normalize)
    loss.set_pixel_weights(weights)
    got = loss(logits, label, ignore_index=255)
    valid = label != 255
    log_probs = F.log_softmax(logits, 1)
    total = 0.0
    for i in range(2):
        for j in range(6):
            for k in range(7):
                if valid[i, j, k]:
                    total -= weights[i][j, k] * log_probs[i, label[i, j, k], j,
                                                          k]
    norm = valid.sum() if avg_non_ignore else label.numel()
    if normalize == 'weights':  # sum of the weights of labelled pixels
        norm = sum(
            float(weights[i][j, k]) for i in range(2) for j in range(6)
            for k in range(7) if valid[i, j, k])
    assert got.item() == pytest.approx(float(total / norm), rel=1e-5)


def test_unit_weights_equal_mmseg_cross_entropy(batch):
    logits, label, _ = batch
    loss = MODELS.build(
        dict(
            type='TrfWeightedCrossEntropyLoss',
            loss_weight=0.7,
            avg_non_ignore=True))
    loss.set_pixel_weights([torch.ones(6, 7)] * 2)
    reference = CrossEntropyLoss(loss_weight=0.7, avg_non_ignore=True)
    assert torch.equal(
        loss(logits, label, ignore_index=255),
        reference(logits, label, ignore_index=255))


def test_weights_padded_like_labels(batch):
    logits, label, weights = batch
    label[:, 4:, :] = 255  # the preprocessor pads labels with ignore
    loss = TrfWeightedCrossEntropyLoss()
    loss.set_pixel_weights([w[:4] for w in weights])
    padded = TrfWeightedCrossEntropyLoss()
    padded.set_pixel_weights(
        [torch.cat([w[:4], torch.ones(2, 7)]) for w in weights])
    assert torch.equal(
        loss(logits, label, ignore_index=255),
        padded(logits, label, ignore_index=255))


def test_weights_used_once_and_required(batch):
    logits, label, weights = batch
    loss = TrfWeightedCrossEntropyLoss()
    with pytest.raises(RuntimeError, match='TransferabilityHook'):
        loss(logits, label, ignore_index=255)
    loss.set_pixel_weights(weights)
    loss(logits, label, ignore_index=255)
    with pytest.raises(RuntimeError, match='no pixel weights'):
        loss(logits, label, ignore_index=255)


def test_batch_size_mismatch(batch):
    logits, label, weights = batch
    loss = TrfWeightedCrossEntropyLoss()
    loss.set_pixel_weights(weights[:1])
    with pytest.raises(RuntimeError, match='1 weight maps for a batch of 2'):
        loss(logits, label, ignore_index=255)


def test_sigmoid_refused():
    with pytest.raises(ValueError, match='use_sigmoid'):
        TrfWeightedCrossEntropyLoss(use_sigmoid=True)


def test_unknown_normalisation_is_refused():
    with pytest.raises(ValueError, match='normalize'):
        TrfWeightedCrossEntropyLoss(normalize='sum')


def test_class_weights_average_like_pytorch_with_ignored_labels(batch):
    logits, label, weights = batch
    class_weight = [0.5, 1.0, 2.0, 1.5, 0.25]
    loss = TrfWeightedCrossEntropyLoss(class_weight=class_weight)
    loss.set_pixel_weights([torch.ones(6, 7), torch.ones(6, 7)])
    expected = F.cross_entropy(
        logits, label, weight=torch.tensor(class_weight), ignore_index=255)
    got = loss(logits, label, ignore_index=255)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    weighted = TrfWeightedCrossEntropyLoss(
        class_weight=class_weight, normalize='weights')
    weighted.set_pixel_weights(weights)
    valid = label != 255
    pixel = torch.stack(weights)
    cw = torch.tensor(class_weight)[label.clamp(0, 4)] * valid
    ce = F.cross_entropy(logits, label, reduction='none', ignore_index=255)
    hand = (pixel * cw * ce).sum() / (pixel * cw).sum()
    assert weighted(
        logits, label, ignore_index=255).item() == pytest.approx(
            hand.item(), rel=1e-5)

"""TransferabilityHook with a mock runner (MMSeg's hook-test style): what it
computes, hands to the loss, reuses, and how much work a refresh does."""
import glob
import json
import os.path as osp
from unittest.mock import MagicMock

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmseg_trf.apis import load_segmentor
from mmseg_trf.engine.hooks import TransferabilityHook, transferability_hook
from mmseg_trf.models.losses import TrfWeightedCrossEntropyLoss
from mmseg_trf.pixels import features
from ..test_apis import tiny_models
from ..test_apis.conftest import city_dataset


@pytest.fixture
def runner(tmp_path, cityscapes_root):
    torch.manual_seed(1)
    model_cfg = tiny_models.fcn()
    model_cfg.decode_head.loss_decode = dict(
        type='TrfWeightedCrossEntropyLoss')
    runner = MagicMock()
    runner.model = load_segmentor(
        Config(dict(model=model_cfg, default_scope='mmseg')))
    runner.model.train()
    runner.work_dir, runner.iter = str(tmp_path), 0
    runner.cfg = Config(
        dict(trf_dataset=city_dataset(cityscapes_root), resume=False))
    return runner


@pytest.fixture
def counted(monkeypatch):
    """Counts of forward passes (images) and dataset builds."""
    counts = dict(images=0, builds=0)
    forward_taps, build_dataset = (features.forward_taps,
                                   transferability_hook.build_dataset)

    def counting_forward(model, samples):
        counts['images'] += len(samples)
        return forward_taps(model, samples)

    def counting_build(cfg):
        counts['builds'] += 1
        return build_dataset(cfg)

    monkeypatch.setattr(features, 'forward_taps', counting_forward)
    monkeypatch.setattr(transferability_hook, 'build_dataset', counting_build)
    return counts


def make_hook(cityscapes_root, **kwargs):
    kwargs = dict(
        dict(
            metrics=('otce', 'leep'),
            map_metric='otce',
            num_pixels=200,
            repetitions=2,
            source_images=2,
            source_dataset=city_dataset(cityscapes_root, 'val')), **kwargs)
    return TransferabilityHook(**kwargs)


def test_refresh_scores_and_maps_in_one_pass_per_image(runner, counted,
                                                       cityscapes_root):
    hook = make_hook(cityscapes_root)
    hook.before_train(runner)
    # 6 target images and 2 source images, each through the model once,
    # for both the scoring pools and the map grids; each dataset built once
    assert counted == dict(images=6 + 2, builds=2)
    assert runner.model.training  # back in train mode
    logged = {c.args[0] for c in runner.message_hub.update_scalar.mock_calls}
    assert logged == {'trf/otce', 'trf/leep'}
    runner.visualizer.add_image.assert_called_once()
    folder = osp.join(runner.work_dir, 'trf')
    for name in ('scores.json', 'weight_map.npy', 'weight_map.png'):
        assert osp.isfile(osp.join(folder, name))
    assert hook.map.weights.shape == (16, 32)
    assert 1 <= hook.map.weights.min() <= hook.map.weights.max() <= np.e


def test_same_model_reuses_map_and_pool_without_a_forward_pass(
        runner, counted, cityscapes_root):
    make_hook(cityscapes_root).before_train(runner)
    counted['images'] = 0
    hook = make_hook(cityscapes_root)
    hook.before_train(runner)
    assert counted['images'] == 0
    assert any('reused the otce weight map' in str(c)
               for c in runner.logger.info.mock_calls)


def test_interval_recomputes_with_the_finetuned_model(runner, counted,
                                                      cityscapes_root):
    hook = make_hook(cityscapes_root, metrics=(), interval=2)
    hook.before_train(runner)
    first = hook.map.transferability.copy()
    counted['images'] = 0
    with torch.no_grad():
        for p in runner.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    runner.iter = 1  # every_n_train_iters looks at runner.iter + 1
    hook.after_train_iter(runner, 1)
    assert counted['images'] == 6 + 2
    assert not np.array_equal(first, hook.map.transferability)


def test_pixel_weights_reach_every_weighted_loss(runner, cityscapes_root):
    hook = make_hook(cityscapes_root, metrics=(), map_metric='leep')
    hook.before_train(runner)
    sample = SegDataSample(metainfo=dict(ori_shape=(64, 128)))
    coords = np.arange(64 * 128).reshape(64, 128)[::2, ::2]  # a resize
    sample.gt_coord_map = PixelData(data=torch.from_numpy(coords)[None])
    hook.before_train_iter(runner, 0, dict(data_samples=[sample]))
    loss, = [
        m for m in runner.model.modules()
        if isinstance(m, TrfWeightedCrossEntropyLoss)
    ]
    weights, = loss._pixel_weights
    expected = hook.map.weights_at(coords // 128, coords % 128, (64, 128))
    np.testing.assert_array_equal(weights.numpy(), expected)


def test_target_follows_the_dataset_config_rule(runner, cityscapes_root):
    # no target_dataset: the run's trf_dataset (the 'val' split, 3 images)
    runner.cfg.trf_dataset = city_dataset(cityscapes_root, 'val')
    hook = make_hook(cityscapes_root, metrics=('leep', ), map_metric=None)
    hook.before_train(runner)
    assert osp.isfile(osp.join(runner.work_dir, 'trf', 'scores.json'))
    sidecars = glob.glob(osp.join(runner.work_dir, 'trf', 'cache', '*.json'))
    assert [json.load(open(s))['images'] for s in sidecars] == [3]


def test_seed_code_rule_reaches_the_hooks_map(runner, cityscapes_root):
    hook = make_hook(
        cityscapes_root,
        metrics=(),
        map_metric='leep',
        weight_rule='seed_code',
        strength=0.5)
    hook.before_train(runner)
    t = hook.map.transferability
    np.testing.assert_allclose(
        hook.map.weights, 1 + 0.5 * (np.exp(-t) - 1), rtol=1e-6)


def test_per_image_map_weights_each_training_image_by_its_own_map(
        runner, cityscapes_root):
    hook = make_hook(
        cityscapes_root, metrics=(), map_metric='leep', map_per_image=True)
    hook.before_train(runner)
    images = hook.map.meta['images']
    assert hook.map.transferability.shape == (6, 64, 128)  # the grid
    assert len(set(images)) == 6 and all(osp.isfile(i) for i in images)
    # each image's labelled pixels span [1, e]: normalised per image
    for weights, terms in zip(hook.map.weights, hook.map.transferability):
        labelled = weights[np.isfinite(terms)]
        assert labelled.min() == pytest.approx(1.0)
        assert labelled.max() == pytest.approx(np.e, rel=1e-6)
    coords = np.arange(64 * 128).reshape(64, 128)[::2, ::2]
    samples = []
    for image in (images[0], images[3]):
        sample = SegDataSample(
            metainfo=dict(ori_shape=(64, 128), img_path=image))
        sample.gt_coord_map = PixelData(data=torch.from_numpy(coords)[None])
        samples.append(sample)
    hook.before_train_iter(runner, 0, dict(data_samples=samples))
    loss, = [
        m for m in runner.model.modules()
        if isinstance(m, TrfWeightedCrossEntropyLoss)
    ]
    for got, slot in zip(loss._pixel_weights, (0, 3)):
        expected = hook.map.weights_at(
            coords // 128, coords % 128, (64, 128), image=images[slot])
        np.testing.assert_array_equal(got.numpy(), expected)
    assert not np.array_equal(loss._pixel_weights[0].numpy(),
                              loss._pixel_weights[1].numpy())

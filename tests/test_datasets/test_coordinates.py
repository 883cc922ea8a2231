"""Pixel coordinates survive the stock Cityscapes training pipeline."""
import random

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS
from PIL import Image

import mmseg_trf  # noqa: F401
from mmseg_trf.datasets.transforms import original_positions
from mmseg_trf.maps import TransferabilityMap, weights_at

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='AddPixelCoordinates'),
    dict(
        type='RandomResize',
        scale=(256, 128),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(64, 96), cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackTrfInputs'),
]


@pytest.fixture
def region_image(tmp_path):
    """A 128 x 256 image whose label is its 4 x 4 region index."""
    rows, cols = np.mgrid[0:128, 0:256]
    label = (rows // 32) * 4 + cols // 64
    Image.fromarray(
        np.random.default_rng(0).integers(
            0, 255, (128, 256, 3), dtype=np.uint8)).save(tmp_path / 'img.png')
    Image.fromarray(label.astype(np.uint8)).save(tmp_path / 'seg.png')
    return dict(
        img_path=str(tmp_path / 'img.png'),
        seg_map_path=str(tmp_path / 'seg.png'),
        reduce_zero_label=False,
        seg_fields=[])


@pytest.mark.parametrize('seed', range(6))
def test_each_pixel_gets_the_weight_of_its_source_location(region_image, seed):
    init_default_scope('mmseg')
    np.random.seed(seed)
    random.seed(seed)
    pipeline = [TRANSFORMS.build(t) for t in PIPELINE]
    results = dict(region_image)
    for transform in pipeline:
        results = transform(results)
    sample = results['data_samples']
    coords = sample.gt_coord_map.data[0].numpy()
    label = sample.gt_sem_seg.data[0].numpy()
    assert coords.shape == label.shape
    width = sample.metainfo['ori_shape'][1]
    # Each output pixel's label is its source region; a 4 x 4 weight map on
    # the 4 x 4 region grid must give it that region's weight.
    weights = np.random.default_rng(seed).uniform(1, np.e, (4, 4))
    got = weights_at(weights, 1, (4, 4), coords // width, coords % width,
                     (128, 256))
    np.testing.assert_array_equal(got, weights.ravel()[label])


@pytest.mark.parametrize('seed', range(4))
def test_per_image_maps_follow_each_image_through_crop_and_flip(
        region_image, seed):
    """Two images share the pixels but not the map: each output pixel must
    get its own image's weight of its source region."""
    init_default_scope('mmseg')
    np.random.seed(seed)
    random.seed(seed)
    pipeline = [TRANSFORMS.build(t) for t in PIPELINE]
    rows, cols = np.mgrid[0:128, 0:256]
    region = (rows // 32) * 4 + cols // 64
    # image 'a': transferability falls with the region index, 'b' rises;
    # eq. 4 per image gives exp(region / 15) and exp((15 - region) / 15)
    maps = np.stack([-region, region - 15.0]).astype(np.float64)
    record = TransferabilityMap(maps, (128, 256), 1,
                                dict(images=['a', region_image['img_path']]))
    results = dict(region_image)
    for transform in pipeline:
        results = transform(results)
    sample = results['data_samples']
    label = sample.gt_sem_seg.data[0].numpy()
    got = record.weights_at(
        *original_positions(sample), image=sample.metainfo['img_path'])
    np.testing.assert_allclose(got, np.exp((15 - label) / 15), rtol=1e-6)
    first = record.weights_at(*original_positions(sample), image='a')
    np.testing.assert_allclose(first, np.exp(label / 15), rtol=1e-6)


def test_flip_really_happens(region_image):
    init_default_scope('mmseg')
    flip = [TRANSFORMS.build(t) for t in PIPELINE[:3]] + [
        TRANSFORMS.build(dict(type='RandomFlip', prob=1.0)),
        TRANSFORMS.build(dict(type='PackTrfInputs'))
    ]
    results = dict(region_image)
    for transform in flip:
        results = transform(results)
    coords = results['data_samples'].gt_coord_map.data[0].numpy()
    assert coords[0, 0] == 255 and coords[0, -1] == 0


@pytest.mark.parametrize('moving', [
    dict(type='RandomCrop', crop_size=(64, 96)),
    dict(type='RandomFlip', prob=1.0),
    PIPELINE[3],
])
def test_coordinates_after_a_geometric_transform_are_refused(
        region_image, moving):
    init_default_scope('mmseg')
    pipeline = [
        TRANSFORMS.build(t) for t in
        [PIPELINE[0], PIPELINE[1], moving,
         dict(type='AddPixelCoordinates')]
    ]
    results = dict(region_image)
    with pytest.raises(ValueError, match='right after LoadAnnotations'):
        for transform in pipeline:
            results = transform(results)


def test_coordinates_twice_are_refused(region_image):
    init_default_scope('mmseg')
    twice = [TRANSFORMS.build(t) for t in PIPELINE[:3] + PIPELINE[2:3]]
    results = dict(region_image)
    with pytest.raises(ValueError, match='twice'):
        for transform in twice:
            results = transform(results)


@pytest.mark.parametrize(
    'pipeline', [PIPELINE, PIPELINE[:-1] + [dict(type='PackSegInputs')]])
def test_weighting_does_not_add_coordinates_a_pipeline_has(pipeline):
    from mmseg_trf.apis.weighting import coordinate_pipeline
    out = coordinate_pipeline(pipeline)
    types = [t['type'] for t in out]
    assert types.count('AddPixelCoordinates') == 1
    assert types[-1] == 'PackTrfInputs'
    assert types == [t['type'] for t in PIPELINE]

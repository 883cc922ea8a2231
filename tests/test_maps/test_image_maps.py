"""Per-image, per-pixel maps: the LEEP terms, their weights, the map."""
import numpy as np
import pytest
import torch

from mmseg_trf.maps import (GridStore, MapSettings, TransferabilityMap,
                            _image_maps, image_control_weights,
                            image_leep_maps, image_weights, pixel_leep_joint,
                            pixel_leep_terms)
from mmseg_trf.metrics import leep
from mmseg_trf.metrics.leep import conditional_from_joint


def _grids(seed=0, images=3, shape=(6, 8), classes=4, ignored=0.2):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (images, ) + shape + (classes, ))
    labels = rng.integers(0, 3, (images, ) + shape)
    labels[rng.random(labels.shape) < ignored] = 255
    return logits.astype(np.float32), labels.astype(np.int32)


def _terms(logits, labels):
    joint = pixel_leep_joint(logits, labels, 255)
    return pixel_leep_terms(logits, labels, conditional_from_joint(joint), 255)


def test_terms_average_to_leep_of_all_labelled_pixels():
    logits, labels = _grids()
    terms = _terms(logits, labels)
    labelled = labels != 255
    assert np.isnan(terms[~labelled]).all()
    probs = torch.softmax(torch.from_numpy(logits[labelled]).double(), -1)
    assert terms[labelled].mean() == pytest.approx(
        leep(probs.numpy(), labels[labelled]), abs=1e-12)


def test_a_term_by_hand():
    # two pixels, two source classes: p = (0.9, 0.1) labelled 0 and
    # (0.2, 0.8) labelled 1
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    logits = np.log(probs)
    labels = np.array([0, 1])
    # P(y=0 | z) = (0.9 / 1.1, 0.1 / 0.9); term_0 = log(0.9 * 0.9 / 1.1 +
    # 0.1 * 0.1 / 0.9)
    expected = np.log(0.9 * 0.9 / 1.1 + 0.1 * 0.1 / 0.9)
    assert _terms(logits, labels)[0] == pytest.approx(expected, abs=1e-12)


def test_maps_from_disk_equal_maps_in_memory_over_several_bands(
        tmp_path, monkeypatch):
    logits, labels = _grids(images=4, shape=(9, 5))
    stores = []
    for name, values, item in (('f', logits, (4, )), ('l', labels, ())):
        store = GridStore(
            str(tmp_path / name),
            4, (9, 5),
            item,
            np.float32 if name == 'f' else np.int32,
            create=True)
        for image in range(4):
            store.write(image, values[image])
        stores.append(store)
    monkeypatch.setattr(_image_maps, 'BAND_BYTES', 4 * 5 * 4 * 2)  # 2 rows
    got = image_leep_maps(*stores, 255)
    np.testing.assert_allclose(
        got, _terms(logits, labels), rtol=1e-6, equal_nan=True)


def test_each_image_is_normalised_over_its_own_labelled_pixels():
    maps = np.array([[[-1.0, -3.0], [np.nan, -2.0]],
                     [[-10.0, -10.0], [-10.0, np.nan]]])
    weights = image_weights(maps)
    # image 0: the least transferable labelled pixel (-3) gets e, -1 gets 1
    np.testing.assert_allclose(
        weights[0], [[1.0, np.e], [1.0, np.exp(0.5)]], rtol=1e-6)
    np.testing.assert_array_equal(weights[1], 1.0)  # constant image
    seed = image_weights(maps, rule='seed_code', strength=2)
    np.testing.assert_allclose(
        seed[0], [[1 + 2 * (np.e - 1), 1 + 2 *
                   (np.exp(3) - 1)], [1.0, 1 + 2 * (np.exp(2) - 1)]],
        rtol=1e-6)


def test_per_image_map_looks_up_each_image(tmp_path):
    maps = np.stack([np.full((4, 6), -1.0), np.full((4, 6), -2.0)])
    maps[0, 0, 0] = -5.0  # image 0 has one hard pixel
    record = TransferabilityMap(maps, (4, 6), 1,
                                dict(metric='leep', images=['a', 'b']))
    rows, cols = np.array([0, 3]), np.array([0, 5])
    np.testing.assert_allclose(
        record.weights_at(rows, cols, (8, 12), image='a'), [np.e, 1.0])
    np.testing.assert_array_equal(
        record.weights_at(rows, cols, (8, 12), image='b'), 1.0)
    with pytest.raises(KeyError, match="no image 'c'"):
        record.weights_at(rows, cols, (8, 12), image='c')
    record.save(str(tmp_path))
    loaded = TransferabilityMap.load(str(tmp_path))
    assert loaded.per_image and loaded.meta['images'] == ['a', 'b']
    np.testing.assert_array_equal(loaded.weights, record.weights)
    shuffled = loaded.variant(control='shuffled')
    assert sorted(shuffled.weights.ravel()) == sorted(record.weights.ravel())


def test_per_image_controls_stay_within_each_images_labelled_pixels():
    maps = np.array([[[-1.0, -3.0, -2.0], [np.nan, -4.0, -1.5]],
                     [[-10.0, -20.0, np.nan], [-30.0, -15.0, -12.0]]])
    labelled = np.isfinite(maps)
    weights = image_weights(maps)
    shuffled = image_control_weights(weights, labelled, 'shuffled', seed=1)
    for image in range(2):
        mask = labelled[image]
        np.testing.assert_array_equal(
            np.sort(shuffled[image][mask]), np.sort(weights[image][mask]))
        np.testing.assert_array_equal(shuffled[image][~mask], 1.0)
    assert not np.array_equal(shuffled, weights)
    np.testing.assert_array_equal(
        shuffled, image_control_weights(weights, labelled, 'shuffled', 1))
    uniform = image_control_weights(weights, labelled, 'uniform')
    for image in range(2):
        mask = labelled[image]
        np.testing.assert_allclose(uniform[image][mask],
                                   weights[image][mask].mean())
        np.testing.assert_array_equal(uniform[image][~mask], 1.0)
    # the map's variant uses them
    record = TransferabilityMap(maps, (2, 3), 1,
                                dict(metric='leep', images=['a', 'b']))
    np.testing.assert_array_equal(
        record.variant(control='shuffled', seed=1).weights, shuffled)


def test_per_image_maps_must_name_their_images_and_be_leep():
    with pytest.raises(ValueError, match='2 named images'):
        TransferabilityMap(
            np.zeros((3, 4, 6)), (4, 6), 1, dict(images=['a', 'b']))
    with pytest.raises(ValueError, match="needs metric 'leep'"):
        MapSettings('logme', per_image=True)

"""TransferabilityMap: eq. 4 weights, saving, and refusing bad files."""
import json

import numpy as np
import pytest

from mmseg_trf.maps import MapFileError, TransferabilityMap, weight_map


@pytest.fixture
def saved(tmp_path):
    t_map = np.random.default_rng(0).normal(size=(4, 6))
    record = TransferabilityMap(t_map, (16, 24), 4, dict(metric='leep'))
    rgb = record.save(str(tmp_path))
    assert rgb.ndim == 3 and rgb.shape[2] == 3
    return tmp_path, record


def test_round_trip(saved):
    folder, record = saved
    loaded = TransferabilityMap.load(str(folder))
    np.testing.assert_array_equal(loaded.transferability,
                                  record.transferability)
    np.testing.assert_array_equal(loaded.weights,
                                  weight_map(record.transferability))
    assert loaded.meta == dict(metric='leep')
    assert (folder / 'weight_map.png').stat().st_size > 0


def test_weights_are_looked_up_by_image_position(saved):
    _, record = saved
    # a 32 x 48 image on a 16 x 24 grid: pixel (31, 47) is in patch (3, 5)
    assert record.weights_at(np.array([31]), np.array([47]),
                             (32, 48))[0] == record.weights[3, 5]


@pytest.mark.parametrize('weights', [1e6, -1.0])
def test_out_of_range_weights_are_refused(saved, weights):
    folder, record = saved
    np.save(folder / 'weight_map.npy', np.full((4, 6), weights, np.float32))
    with pytest.raises(MapFileError, match='not eq. 4'):
        TransferabilityMap.load(str(folder))


@pytest.mark.parametrize('name, content', [
    ('weight_map.json', b'{garbage'),
    ('weight_map.npy', b'not a numpy file'),
    ('transferability.npy', b''),
])
def test_corrupt_files_are_refused(saved, name, content):
    folder, _ = saved
    (folder / name).write_bytes(content)
    with pytest.raises(MapFileError, match='missing or corrupt'):
        TransferabilityMap.load(str(folder))


def test_a_map_that_does_not_fit_its_grid_is_refused(saved):
    folder, _ = saved
    meta = json.loads((folder / 'weight_map.json').read_text())
    meta['grid_shape'] = [8, 8]
    (folder / 'weight_map.json').write_text(json.dumps(meta))
    with pytest.raises(MapFileError, match='does not fit'):
        TransferabilityMap.load(str(folder))


def test_variants_keep_the_saved_map_and_change_only_the_weights(saved):
    folder, record = saved
    shuffled = record.variant(control='shuffled', seed=1)
    assert np.array_equal(
        np.sort(shuffled.weights.ravel()), np.sort(record.weights.ravel()))
    assert not np.array_equal(shuffled.weights, record.weights)
    half = record.variant(strength=0.5)
    assert np.allclose(half.weights, 1 + 0.5 * (record.weights - 1), atol=1e-6)
    assert np.array_equal(record.weights, weight_map(record.transferability))
    loaded = TransferabilityMap.load(str(folder))  # still eq. 4 on disk
    assert np.array_equal(loaded.weights, record.weights)
    rows, cols = np.array([0, 15]), np.array([0, 23])
    assert np.array_equal(
        shuffled.weights_at(rows, cols, (16, 24)), shuffled.weights[[0, 3],
                                                                    [0, 5]])


def test_a_saved_strength_is_checked_on_load(tmp_path):
    t_map = np.random.default_rng(0).normal(size=(4, 6))
    TransferabilityMap(t_map, (16, 24), 4, strength=0.5).save(str(tmp_path))
    loaded = TransferabilityMap.load(str(tmp_path))
    assert loaded.strength == 0.5
    assert loaded.weights.max() == pytest.approx(
        1 + 0.5 * (np.e - 1), rel=1e-5)


def test_reuse_rule_serves_only_the_same_settings_and_model(tmp_path):
    t_map = np.random.default_rng(0).normal(size=(4, 6))
    s1 = dict(patch=4, layer='logits', map_shape=(16, 24))
    s2 = dict(s1, patch=8, layer='pre_logits')
    TransferabilityMap(t_map, (16, 24), 4,
                       dict(settings=s1, weights='w1')).save(str(tmp_path))
    folder = str(tmp_path)
    assert TransferabilityMap.reusable(folder, s1, 'w1', False) is not None
    assert TransferabilityMap.reusable(folder, s1, 'w2', False) is None
    assert TransferabilityMap.reusable(folder, s2, 'w1', False) is None
    # a resumed run keeps the source's map (its model has moved on) ...
    assert TransferabilityMap.reusable(folder, s1, 'w2', True) is not None
    # ... and must have one of its settings, told which differ
    with pytest.raises(
            MapFileError,
            match=r"other settings .*\(layer 'logits' -> 'pre_logits', "
            r'patch 4 -> 8\)'):
        TransferabilityMap.reusable(folder, s2, 'w2', True)
    with pytest.raises(MapFileError):
        TransferabilityMap.reusable(str(tmp_path / 'none'), s1, 'w1', True)
    assert TransferabilityMap.reusable(
        str(tmp_path / 'none'), s1, 'w1', False) is None


def test_seed_code_rule_is_exp_minus_t_unnormalised():
    from mmseg_trf.maps import seed_code_weights
    t = np.array([[-0.2, -1.5], [0.0, -3.0]])
    np.testing.assert_allclose(seed_code_weights(t), np.exp(-t), rtol=1e-6)
    np.testing.assert_allclose(
        seed_code_weights(t, 0.5), 1 + 0.5 * (np.exp(-t) - 1), rtol=1e-6)
    with pytest.raises(ValueError, match='NaN'):
        seed_code_weights(np.array([[np.nan, 0.0]]))


def test_variant_with_the_seed_code_rule_and_a_control(tmp_path):
    t = -np.random.default_rng(0).random((4, 6)) * 2
    stored = TransferabilityMap(t, (16, 24), 4, dict(metric='leep'))
    seed_rule = stored.variant(rule='seed_code')
    np.testing.assert_allclose(seed_rule.weights, np.exp(-t), rtol=1e-6)
    shuffled = stored.variant(rule='seed_code', control='shuffled', seed=3)
    np.testing.assert_allclose(
        np.sort(shuffled.weights.ravel()),
        np.sort(np.exp(-t).ravel()),
        rtol=1e-6)
    assert stored.variant() is stored
    with pytest.raises(ValueError, match='rule'):
        stored.variant(rule='softmax')
    stored.save(str(tmp_path))  # the saved map stays eq. 4
    np.testing.assert_allclose(
        TransferabilityMap.load(str(tmp_path)).weights, weight_map(t))

import numpy as np
import pytest

from mmseg_trf.sampling import (SamplingSettings, balanced_pool,
                                check_label_ids, draw_pool, full_pool,
                                repetitions, uniform_pool)


def label_maps(seed=0, count=4, shape=(20, 30)):
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(count):
        m = rng.choice([0, 1, 2, 255], size=shape, p=[0.7, 0.2, 0.05, 0.05])
        maps.append(m)
    return maps


@pytest.mark.parametrize('settings', [
    SamplingSettings('uniform', num_pixels=50, repetitions=3, pool_size=0),
    SamplingSettings('balanced', pixels_per_image=40, repetitions=2),
    SamplingSettings('full')
])
def test_ignored_pixels_never_sampled(settings):
    maps = label_maps()
    pool = draw_pool(maps, 255, settings)
    values = np.array(
        [maps[i][r, c] for i, r, c in zip(pool.image, pool.row, pool.col)])
    assert (values != 255).all()
    np.testing.assert_array_equal(values, pool.labels)
    keys = pool.image * 10000 + pool.row * 100 + pool.col
    assert len(np.unique(keys)) == len(keys)  # without replacement


def test_full_pool_is_every_labelled_pixel():
    maps = label_maps()
    assert len(full_pool(maps,
                         255)) == sum(int((m != 255).sum()) for m in maps)


def test_same_seed_same_pool_other_seed_other_pool():
    maps = label_maps()
    a, b = uniform_pool(maps, 255, 100, 7), uniform_pool(maps, 255, 100, 7)
    c = uniform_pool(maps, 255, 100, 8)
    np.testing.assert_array_equal(a.row, b.row)
    assert not np.array_equal(a.row, c.row)


def test_uniform_repetitions_are_disjoint_slices_when_they_fit():
    settings = SamplingSettings(
        'uniform', num_pixels=30, repetitions=4, pool_size=0)
    pool = draw_pool(label_maps(), 255, settings)
    reps = repetitions(pool, settings)
    assert [len(r) for r in reps] == [30] * 4
    assert len(np.unique(np.concatenate(reps))) == 120


def test_smaller_n_reuses_the_same_pool():
    big = SamplingSettings('uniform', num_pixels=100, repetitions=10)
    small = SamplingSettings('uniform', num_pixels=10, repetitions=10)
    assert big.pool_key() == small.pool_key()


def test_balanced_sampling_favours_rare_classes():
    maps = label_maps(count=8, shape=(40, 40))
    pool = balanced_pool(maps, 255, per_image=60, slices=1, seed=0)
    everywhere = np.concatenate([m[m != 255] for m in maps])
    rare = np.mean(everywhere == 2)
    assert np.mean(pool.labels == 2) > 3 * rare
    assert (np.bincount(pool.image) == 60).all()


def test_all_ignored_is_a_clear_error():
    maps = [np.full((5, 5), 255)]
    with pytest.raises(ValueError, match='no labelled pixels'):
        uniform_pool(maps, 255, 10, 0)


def test_bad_settings():
    with pytest.raises(ValueError, match='unknown sampler'):
        SamplingSettings('random')
    with pytest.raises(ValueError, match='num_pixels must be an integer >= 1'):
        SamplingSettings(num_pixels=0)
    with pytest.raises(ValueError, match="repetitions .* got '10'"):
        SamplingSettings(repetitions='10')


def test_more_pixels_than_labelled_warns_with_the_n_used():
    labels = [np.zeros((4, 5), np.int64)]
    settings = SamplingSettings('uniform', num_pixels=1000, repetitions=3)
    pool = draw_pool(labels, 255, settings)
    with pytest.warns(UserWarning, match='N = 20 is used.*identical'):
        reps = repetitions(pool, settings)
    assert [len(r) for r in reps] == [20, 20, 20]


def test_balanced_sampling_takes_label_ids_above_255():
    maps = [np.where(m == 2, 300, m) for m in label_maps(count=4)]
    pool = balanced_pool(maps, 255, per_image=30, slices=1, seed=0)
    assert set(np.unique(pool.labels)) <= {0, 1, 300}
    same = balanced_pool(label_maps(count=4), 255, 30, 1, 0)
    assert np.array_equal(pool.row, same.row)  # same weights as id 2
    assert np.array_equal(pool.col, same.col)


def test_label_ids_outside_the_classes_are_refused_by_name():
    maps = label_maps()
    check_label_ids(maps, 3, 255, 'target dataset')  # 0-2 and 255: fine
    maps[1][0, 0] = 77
    with pytest.raises(ValueError, match=r'target dataset: label ids \[77\]'):
        check_label_ids(maps, 19, 255, 'target dataset')

import argparse

import pytest

from benchmarks.selection_study.analysis import first_seeds, seeds_of
from benchmarks.selection_study.parts import (check_same_sources,
                                              check_sources_first,
                                              study_records, with_added_seeds)
from benchmarks.selection_study.protocol import SCENARIOS
from tests.test_benchmarks.test_selection_study.hand_made import curve, record


def test_with_added_seeds_pools_every_mean():
    before = record({
        'a': [curve(0.1, 0.4), curve(0.2, 0.2)],
        'b': [curve(0.3, 0.3), curve(0.1, 0.5)]
    })
    added = record({'a': [curve(0.7, 0.1)], 'b': [curve(0.0, 0.1)]})
    pooled = with_added_seeds(before, added, [0, 1, 2])
    assert seeds_of(pooled) == 3
    assert pooled['curves']['a'][2] == curve(0.7, 0.1)
    # the truth is the mean best over the three seeds, not of two means
    assert pooled['truth'] == pytest.approx(dict(a=1.3 / 3, b=0.9 / 3))
    assert pooled['proxies']['short'] == pytest.approx(
        dict(a=1.0 / 3, b=0.4 / 3))
    assert pooled['finetune_seconds'] == pytest.approx(
        dict(a=50 / 3, b=50 / 3))
    assert pooled['finetune_seeds'] == [0, 1, 2]
    assert pooled['ranking'] is before['ranking']
    assert seeds_of(before) == 2  # the stored record is not changed
    # the first two seeds give back the record's own truth
    assert first_seeds(pooled, 2)['truth'] == pytest.approx(before['truth'])


def test_with_added_seeds_pools_the_longer_truth():
    before = record({'a': [curve(0.1), curve(0.3)], 'b': [curve(0.2)] * 2})
    added = record({'a': [curve(0.5)], 'b': [curve(0.2)]})
    before['continued'] = dict(
        budget=8,
        curves=before['curves'],
        truth=dict(a=0.2, b=0.2),
        finetune_seconds=dict(a=20.0, b=20.0))
    added['continued'] = dict(
        budget=8,
        curves=added['curves'],
        truth=dict(a=0.5, b=0.2),
        finetune_seconds=dict(a=50.0, b=20.0))
    pooled = with_added_seeds(before, added, [0, 1, 2])
    assert pooled['continued']['budget'] == 8
    assert len(pooled['continued']['curves']['a']) == 3
    assert pooled['continued']['truth'] == pytest.approx(dict(a=0.3, b=0.2))
    assert pooled['continued']['finetune_seconds']['a'] == pytest.approx(30)


def test_added_seeds_need_the_same_sources_and_budgets():
    before = record({'a': [curve(0.1)] * 2, 'b': [curve(0.2)] * 2})
    other_weights = record({
        'a': [curve(0.1)],
        'b': [curve(0.2)]
    },
                           own=(0.6, 0.31))
    with pytest.raises(SystemExit, match='own mIoU'):
        with_added_seeds(before, other_weights, [0, 1, 2])
    other_scores = record({
        'a': [curve(0.1)],
        'b': [curve(0.2)]
    },
                          scores=(0.5, 0.2001))
    with pytest.raises(SystemExit, match='metric scores'):
        check_same_sources(before, other_scores)
    longer = record({'a': [curve(0.1)], 'b': [curve(0.2)]}, budget=6)
    with pytest.raises(SystemExit, match='other budgets'):
        with_added_seeds(before, longer, [0, 1, 2])
    same = record({'a': [curve(0.1)], 'b': [curve(0.2)]})
    with pytest.raises(ValueError, match='2 seeds named'):
        with_added_seeds(before, same, [0, 1])


class SourcesOnlyRunner:
    """A runner that trains sources (to the given own mIoU) and fails the
    test if anything else, a finetuning or a scoring, is asked of it."""

    def __init__(self, own):
        self.spec = argparse.Namespace(
            sources=[argparse.Namespace(name=n) for n in own])
        self.own, self.trained, self.failures = own, [], {}

    def parallel(self, work, calls):
        return [work(*call) for call in calls]

    def source_checkpoint(self, source):
        self.trained.append(source.name)
        return f'{source.name}.pth'

    def source_mious(self):
        return dict(self.own)

    def __getattr__(self, name):
        raise AssertionError(f'more than the sources was asked: {name}')


def test_added_seeds_check_the_sources_before_any_finetuning():
    before = record({'a': [curve(0.1)] * 2, 'b': [curve(0.2)] * 2})
    same = SourcesOnlyRunner(dict(a=0.6, b=0.3))
    check_sources_first(same, before)
    assert same.trained == ['a', 'b']
    with pytest.raises(SystemExit, match=r"own mIoU differ on \['b'\]"):
        check_sources_first(SourcesOnlyRunner(dict(a=0.6, b=0.31)), before)
    with pytest.raises(SystemExit, match=r"own mIoU differ on \['b'\]"):
        check_sources_first(SourcesOnlyRunner(dict(a=0.6)), before)


def test_without_leaves_stored_parts_out_of_the_report():
    args = argparse.Namespace(
        scenarios=SCENARIOS[:1],
        seeds=[0, 1],
        only=['none'],
        without=['default-seed1'])
    records, _ = study_records(args, start=0.0)
    assert list(records) == ['default-seed0']

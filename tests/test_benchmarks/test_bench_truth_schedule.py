import argparse
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import PolyLR

from benchmarks.bench_truth_schedule import (main, protocol, protocol_label,
                                             protocol_variant, truth_row)


def test_the_decayed_variant_decays_the_rate_linearly_to_zero():
    cfg = Config(
        dict(
            param_scheduler=[],
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=1000)))
    cfg.merge_from_dict(protocol_variant('poly:400').options)
    assert cfg.train_cfg.max_iters == 400
    scheduler = dict(cfg.param_scheduler)
    assert scheduler.pop('type') == 'PolyLR'
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    poly = PolyLR(optimizer, **scheduler)
    rates = []
    for _ in range(400):
        rates.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        poly.step()
    # MMEngine's PolyLR reaches zero at the budget's last iteration
    assert rates == pytest.approx([1e-3 * (1 - i / 399) for i in range(400)])


def test_a_constant_protocol_sets_the_budget_and_rate_only():
    variant = protocol_variant('constant:3000:3e-3')
    assert variant.name == 'constant3000-lr3e-3'
    assert variant.options == {
        'train_cfg.max_iters': 3000,
        'optim_wrapper.optimizer.lr': 3e-3
    }
    assert protocol_label('constant:3000:3e-3') == 'constant, 3000 it, lr 3e-3'
    assert protocol_variant('poly:1000').name == 'poly1000'


@pytest.mark.parametrize('text', ['cosine:1000', 'poly:1e3', 'poly:10:1:2'])
def test_a_bad_protocol_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match='SCHEDULE:ITERS'):
        protocol(text)


def test_a_truth_row_judges_a_truth_against_the_probe():
    probe = dict(a=0.5, b=0.4, c=0.3)
    same = truth_row('same', dict(a=0.2, b=0.1, c=0.0), 10, probe)
    assert same == '| same | 10 | 1.000 | yes | 10.0 |  |  |'
    # its best source, b, is 10 points below the probe's best
    swapped = truth_row('swapped', dict(a=0.1, b=0.2, c=0.0), 10, probe)
    assert swapped.split(' | ')[2:4] == ['0.500', 'no (10.0)']


def test_a_decayed_truth_row_carries_the_plateau_rule():
    # two seeds per source; the last quarter (after 3) gains 0, 0.175, 0
    curves = dict(
        a=[[(1, 0.1), (3, 0.5), (4, 0.5)], [(1, 0.1), (3, 0.4), (4, 0.4)]],
        b=[[(1, 0.1), (3, 0.1), (4, 0.3)], [(1, 0.1), (3, 0.2), (4, 0.35)]],
        c=[[(1, 0.1), (3, 0.05), (4, 0.05)]] * 2)
    row = truth_row('decayed', dict(a=0.45, b=0.35, c=0.1), 4,
                    dict(a=0.5, b=0.4, c=0.1), curves)
    # noise: the mean of the first three quarters' std, 0.047: two of three
    # plateau, under the rule's 3/4; both seeds rank a, b, c
    assert row.split(' | ')[-2:] == ['2/3 (no)', '1.000 |']


def test_the_command_rewrites_the_report_from_stored_truths(
        monkeypatch, capsys, tmp_path):
    # every protocol asked for is stored: nothing is finetuned
    monkeypatch.setattr(sys, 'argv', [
        'bench_truth_schedule.py', '--runs', 'night_target-seed2',
        '--protocols', 'poly:1000', '--out-dir',
        str(tmp_path)
    ])
    main()
    out = capsys.readouterr().out
    assert '--runs night_target-seed2 --protocols poly:1000' in out
    assert '| decayed to 0, 1000 it |' in out
    assert not any(tmp_path.iterdir())


def test_a_run_without_a_probe_is_named(monkeypatch):
    monkeypatch.setattr(sys, 'argv',
                        ['bench_truth_schedule.py', '--runs', 'nope-seed0'])
    with pytest.raises(SystemExit, match='nope-seed0: no probe'):
        main()

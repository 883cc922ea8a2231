import pytest

from benchmarks.bench_weighting import (finetune_options, parse_args,
                                        plateau_gains, report, study_sources)


def test_the_study_takes_the_best_median_and_worst_source():
    truth = dict(a=0.5, b=0.2, c=0.4, d=0.1, e=0.3)
    assert study_sources(truth) == ['a', 'e', 'd']
    # a zoo of two gives two, each once
    assert study_sources(dict(a=0.5, b=0.2)) == ['a', 'b']


def test_validation_is_every_25_iterations_and_at_most_20_times():
    assert finetune_options(40, 1e-3) == {
        'train_cfg.max_iters': 40,
        'train_cfg.val_interval': 10,
        'default_hooks.checkpoint.interval': 10,
        'optim_wrapper.optimizer.lr': 1e-3
    }
    assert finetune_options(250, 5e-4)['train_cfg.val_interval'] == 25
    assert finetune_options(2000, 5e-4)['train_cfg.val_interval'] == 100


def test_the_plateau_is_the_last_quarter_gain_over_the_rest():
    curves = {
        'a': [{
            25: 10.0,
            50: 20.0,
            75: 30.0,
            100: 31.0
        }, {
            25: 10.0,
            50: 25.0,
            75: 25.0,
            100: 24.0
        }],
    }
    # seed 0 gains 1 point after iteration 75, seed 1 loses 1
    assert plateau_gains(curves, 100) == {'a': pytest.approx(0.0)}


@pytest.fixture
def study():
    """Two sources, three seeds: the per-image LEEP weighting gains 2
    points on every pair, the pooled OTCE one 1, their shuffled controls
    nothing."""
    gains = {
        'vanilla': 0.0,
        'trf-otce': 0.01,
        'trf-leep-per-image': 0.02,
        'control-shuffled': 0.0,
        'control-per-image-shuffled': 0.0
    }
    runs = {
        (source, variant, seed): base + gain + 0.001 * seed
        for variant, gain in gains.items()
        for source, base in (('good', 0.5), ('bad', 0.2))
        for seed in (0, 1, 2)
    }
    curves = {s: [{50: 10.0, 100: 12.0}] * 3 for s in ('good', 'bad')}
    args = parse_args(['--seeds', '0', '1', '2', '--iters', '100'])
    return args, runs, curves


def test_the_report_compares_every_variant_with_vanilla_pair_by_pair(study):
    args, runs, curves = study
    text, data = report(args, dict(good=0.5, bad=0.2), ['good', 'bad'], runs,
                        curves)
    assert list(data['table']) == [
        'trf-otce', 'trf-leep-per-image', 'control-shuffled',
        'control-per-image-shuffled'
    ]
    for source in ('good', 'bad', 'pooled'):
        assert data['table']['trf-leep-per-image'][source]['mean'] == \
            pytest.approx(2.0)
        assert data['table']['control-shuffled'][source]['mean'] == \
            pytest.approx(0.0)
    assert data['table']['trf-otce']['pooled']['runs'] == 6
    # the best weighting is judged against its own map shuffled
    assert data['best'] == 'trf-leep-per-image'
    assert data['versus_shuffled']['pooled']['mean'] == pytest.approx(2.0)
    assert ('Best weighting: **trf-leep-per-image**, +2.00 [+2.00, +2.00] '
            '(n=6) vs vanilla; vs control-per-image-shuffled') in text
    assert data['plateau'] == {'good': 2.0, 'bad': 2.0}
    assert ('`python benchmarks/bench_weighting.py --scenario '
            'configs/demo/scenario_default.yaml --scene-seed 0 --seeds 0 1 2 '
            '--iters 100 --lr 0.0005`') in text
    assert '| trf-otce | +1.00 [+1.00, +1.00] (n=3) |' in text
    assert 'Vanilla mIoU per source (mean over seeds): good 50.10, bad 20.10' \
        in text


def test_without_a_weighting_run_nothing_is_called_best(study):
    args, runs, curves = study
    vanilla = {k: v for k, v in runs.items() if k[1] == 'vanilla'}
    text, data = report(args, dict(good=0.5, bad=0.2), ['good', 'bad'],
                        vanilla, curves)
    assert data['table'] == {} and data['best'] is None
    assert 'Best weighting' not in text

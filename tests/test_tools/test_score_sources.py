"""tools/score_sources.py end to end, in one and in two processes."""
import json
import os.path as osp
from fractions import Fraction

import numpy as np
import pytest
import yaml

from mmseg_trf.apis import ScoringSettings
from mmseg_trf.apis.report import FUSION_RULE
from mmseg_trf.evaluation import fuse_scores
from ..conftest import load_tool, run_tool
from ..test_apis.workspace import make_workspace

ARGS = [
    '--metrics', 'otce', 'leep', 'logme', 'hscore', 'nce', '--num-pixels',
    '200', '--repetitions', '2', '--pool-size', '800', '--source-images', '2'
]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory, cityscapes_root):
    return make_workspace(str(tmp_path_factory.mktemp('ws')), cityscapes_root)


def table(work_dir):
    with open(osp.join(work_dir, 'ranking.json')) as f:
        data = json.load(f)
    return {
        (s['name'], m): v['mean']
        for s in data['sources']
        for m, v in s['metrics'].items()
    }, data


def test_cli_writes_reports(workspace, tmp_path):
    # the default ranking: the fusion of the five metrics first
    proc = run_tool('score_sources.py', workspace['target'], '--sources',
                    workspace['sources_file'], *ARGS[6:], '--work-dir',
                    tmp_path)
    assert '| rank | source |' in proc.stdout
    for name in ('ranking.md', 'ranking.csv', 'ranking.json',
                 'score_vs_miou.png', 'score_sources.log'):
        assert osp.isfile(tmp_path / name), name
    scores, data = table(tmp_path)
    assert len(scores) == 3 * 6
    assert set(data['correlations']) == {
        'fusion', 'otce', 'leep', 'logme', 'hscore', 'nce',
        'random (expected)', 'prior: parameter count'
    }
    leep = data['correlations']['leep']
    low, high = leep['spearman_ci']
    assert low <= leep['spearman'] <= high
    assert 'regret' in leep and 'top3' in leep
    assert 'P(best by fusion)' in proc.stdout
    assert data['settings']['fusion'] == dict(
        members=list(ScoringSettings.metrics), rule=FUSION_RULE)
    # fused repetition by repetition, then averaged
    sources = data['sources']
    per_rep = [
        fuse_scores(
            {
                m: [s['metrics'][m]['values'][rep] for s in sources]
                for m in ScoringSettings.metrics
            }, ScoringSettings.metrics, FUSION_RULE) for rep in range(2)
    ]
    for source, fused in zip(sources, np.mean(per_rep, 0)):
        assert source['metrics']['fusion']['mean'] == pytest.approx(fused)


def test_fusion_is_a_selectable_metric(workspace, tmp_path):
    run_tool('score_sources.py', workspace['target'], '--sources',
             workspace['sources_file'], *ARGS[:1], 'fusion', *ARGS[6:],
             '--fusion-members', 'leep', 'logme', '--fusion-rule', 'rank',
             '--work-dir', tmp_path)
    scores, data = table(tmp_path)
    names = {s['name'] for s in data['sources']}
    assert {m for _, m in scores} == {'fusion', 'leep', 'logme'}
    # rank fusion of two metrics over 3 sources: mean ranks in [1, 3]
    fused = [scores[n, 'fusion'] for n in names]
    assert all(1 <= f <= 3 for f in fused)
    assert sum(fused) == pytest.approx(6.0)
    assert data['settings']['fusion'] == dict(
        members=['leep', 'logme'], rule='rank')


def test_the_source_miou_prior_is_a_baseline_and_a_fusion_member(
        workspace, tmp_path):
    with open(workspace['sources_file']) as f:
        sources = yaml.safe_load(f)
    priors = dict(zip([s['name'] for s in sources], (0.7, 0.2, 0.9)))
    for source in sources:
        source['source_miou'] = priors[source['name']]
    path = tmp_path / 'sources.yaml'
    path.write_text(yaml.safe_dump(sources))
    run_tool('score_sources.py', workspace['target'], '--sources', path,
             *ARGS[:1], 'leep', 'fusion', *ARGS[6:], '--fusion-members',
             'leep', 'source-miou', '--fusion-rule', 'rank', '--work-dir',
             tmp_path / 'out')
    scores, data = table(tmp_path / 'out')
    from mmseg_trf.evaluation import rank_correlations
    truth = {s['name']: s['miou'] for s in sources}
    names = list(truth)
    prior = data['correlations']['prior: source mIoU']
    assert prior['spearman'] == pytest.approx(
        rank_correlations([priors[n] for n in names],
                          [truth[n] for n in names])['spearman'])
    # rank fusion of LEEP and the prior: the mean of the two ranks
    leep = {n: scores[n, 'leep'] for n in names}
    for name in names:
        ranks = [
            sorted(values.values()).index(values[name]) + 1
            for values in (leep, priors)
        ]
        assert scores[name, 'fusion'] == pytest.approx(sum(ranks) / 2)


# two-process runs of the hook and the runner are in the default suite
@pytest.mark.slow
def test_two_process_run_gives_the_same_table(workspace, tmp_path):
    run_tool('score_sources.py', workspace['target'], '--sources',
             workspace['sources_file'], *ARGS, '--work-dir', tmp_path / 'one')
    run_tool(
        'score_sources.py',
        workspace['target'],
        '--sources',
        workspace['sources_file'],
        *ARGS,
        '--work-dir',
        tmp_path / 'two',
        nproc=2)
    one, _ = table(tmp_path / 'one')
    two, _ = table(tmp_path / 'two')
    assert one.keys() == two.keys()
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-7), key


def test_the_architecture_history_is_fused_by_its_share_and_ranks_first(
        workspace, tmp_path):
    with open(workspace['sources_file']) as f:
        sources = yaml.safe_load(f)
    families = ('fcn', 'unet', 'segnet')  # segnet: never seen before
    for source, family in zip(sources, families):
        source['architecture'] = family
    (tmp_path / 'sources.yaml').write_text(yaml.safe_dump(sources))
    (tmp_path / 'history.yaml').write_text(
        yaml.safe_dump({
            'past-a': [
                dict(architecture='fcn', miou=0.2),
                dict(architecture='unet', miou=0.4)
            ],
            'past-b': [
                dict(architecture='unet', miou=0.3),
                dict(architecture='fcn', miou=0.1),
                dict(architecture='pspnet', miou=0.5)
            ]
        }))
    proc = run_tool('score_sources.py', workspace['target'], '--sources',
                    tmp_path / 'sources.yaml', *ARGS[:1], 'fusion', *ARGS[6:],
                    '--fusion-members', 'leep', 'logme',
                    '--architecture-history', tmp_path / 'history.yaml',
                    '--architecture-share', '0.75', '--work-dir',
                    tmp_path / 'out')
    warning = next(line for line in proc.stderr.splitlines()
                   if 'has no family of' in line)
    assert sources[2]['name'] in warning and sources[0]['name'] not in warning
    assert 'P(best by fusion + architecture)' in proc.stdout
    _, data = table(tmp_path / 'out')
    # rank shares: fcn 1/2 then 1/3, unet 1 then 2/3; per repetition the
    # z-scores of the fusion and of the prior weighing 1/4 and 3/4, the
    # unseen family from its fusion alone
    prior = dict(fcn=(1 / 2 + 1 / 3) / 2, unet=(1 + 2 / 3) / 2)
    reps = len(data['sources'][0]['metrics']['fusion']['values'])
    per_rep = [
        fuse_scores(
            dict(
                fusion=[
                    s['metrics']['fusion']['values'][rep]
                    for s in data['sources']
                ],
                architecture=[prior.get(f, np.nan) for f in families]),
            ['fusion', 'architecture'], FUSION_RULE, [0.25, 0.75])
        for rep in range(reps)
    ]
    for source, fused in zip(data['sources'], np.mean(per_rep, 0)):
        assert source['metrics']['fusion + architecture'][
            'mean'] == pytest.approx(fused)
    assert data['settings']['architecture_history'] == str(tmp_path /
                                                           'history.yaml')
    assert data['settings']['architecture_share'] == 0.75


@pytest.mark.parametrize('args, message', [
    (['--metrics', 'magic'], 'magic'),
    (['--metrics', 'fusion'], '--metrics fusion fuses the other'),
    (['--metrics', 'fusion', '--fusion-members', 'leep', 'architecture'
      ], 'needs --architecture-history'),
    (['--architecture-share', '1.5'], 'must be in [0, 1]'),
])
def test_cli_rejects_unknown_metric_and_empty_fusion(workspace, args, message):
    proc = run_tool(
        'score_sources.py',
        workspace['target'],
        '--sources',
        workspace['sources_file'],
        *args,
        check=False)
    assert proc.returncode != 0 and message in proc.stderr


def bad_sources(tmp_path, workspace, broken):
    """The workspace's sources, the first ``broken`` of them with a
    checkpoint that does not exist."""
    sources = [dict(s) for s in workspace['sources']]
    for source in sources[:broken]:
        source['checkpoint'] = str(tmp_path / 'missing.pth')
    path = tmp_path / f'broken{broken}.yaml'
    path.write_text(yaml.safe_dump(sources))
    return path


def test_exit_status_tells_whether_the_work_was_done(workspace, tmp_path):
    (tmp_path / 'none.yaml').write_text('[]')
    proc = run_tool(
        'score_sources.py',
        workspace['target'],
        '--sources',
        tmp_path / 'none.yaml',
        check=False)
    assert proc.returncode != 0 and 'lists no source' in proc.stderr
    fast = ['--metrics', 'leep', 'logme', *ARGS[6:]]
    proc = run_tool(
        'score_sources.py',
        workspace['target'],
        '--sources',
        bad_sources(tmp_path, workspace, 3),
        *fast,
        '--work-dir',
        tmp_path / 'all',
        check=False)
    assert proc.returncode != 0
    assert 'failed: fcn_a; fcn_b; psp' in proc.stderr
    partly = bad_sources(tmp_path, workspace, 1)
    proc = run_tool(
        'score_sources.py',
        workspace['target'],
        '--sources',
        partly,
        *fast,
        '--work-dir',
        tmp_path / 'part',
        check=False)
    assert proc.returncode != 0 and 'failed: fcn_a (the rest' in proc.stderr
    assert osp.isfile(tmp_path / 'part' / 'ranking.md')  # what worked
    proc = run_tool('score_sources.py', workspace['target'], '--sources',
                    partly, *fast, '--work-dir', tmp_path / 'tolerant',
                    '--tolerate-failures')
    assert proc.returncode == 0


def score_sources_tool():
    return load_tool('score_sources.py')


@pytest.mark.parametrize('option', [
    '--batch-size', '--source-images', '--num-pixels', '--repetitions',
    '--pool-size', '--pixels-per-image'
])
@pytest.mark.parametrize('value', ['0', '-3'])
def test_counts_below_one_are_refused_by_name(option, value, capsys):
    tool = score_sources_tool()
    with pytest.raises(SystemExit):
        tool.parse_args(['target.py', '--sources', 's.yaml', option, value])
    assert option in capsys.readouterr().err


@pytest.mark.parametrize(
    'entries, message',
    [([dict(name='a')], r"missing \['config'\]"),
     ([dict(name='a', config='c.py', chekpoint='x.pth')
       ], r"unknown keys \['chekpoint'\]"),
     ([dict(name='a', config='c.py', miou='high')], "'high' is not a number"),
     ([dict(name='a', config='c.py', miou=42)], r'outside \[0, 1\]'),
     (['a.py'], 'a source is a mapping')])
def test_bad_source_entries_name_the_entry_and_field(tmp_path, entries,
                                                     message):
    tool = score_sources_tool()
    path = tmp_path / 'sources.yaml'
    path.write_text(yaml.safe_dump(entries))
    with pytest.raises(ValueError, match=message) as err:
        tool.load_sources(
            tool.parse_args(['target.py', '--sources',
                             str(path)]))
    assert 'source 1' in str(err.value)


@pytest.mark.parametrize('history, message', [
    ([dict(architecture='fcn', miou=0.3)], 'must map past targets'),
    (dict(past=[dict(architecture='fcn', miou=0.3)]), 'two or more'),
    (dict(
        past=[dict(architecture='fcn', miou=0.3),
              dict(arch='unet', miou=0.2)]), 'two or more'),
    (dict(past=[
        dict(architecture='fcn', miou=0.3),
        dict(architecture='unet', miou=30)
    ]), r'outside \[0, 1\]'),
])
def test_a_bad_architecture_history_names_the_target(tmp_path, history,
                                                     message):
    from mmseg_trf.apis.scoring import read_architecture_history
    path = tmp_path / 'history.yaml'
    path.write_text(yaml.safe_dump(history))
    with pytest.raises(ValueError, match=message) as err:
        read_architecture_history(str(path))
    assert str(path) in str(err.value)


@pytest.mark.parametrize('curve, message', [
    ([[100, 0.2], [50, 0.3]], 'positive and increasing'),
    ([[100, 20]], r'outside \[0, 1\]'),
    ([100, 0.2], r'list of \[iters, miou\] pairs'),
])
def test_a_bad_curve_in_a_history_names_the_target(tmp_path, curve, message):
    from mmseg_trf.apis.scoring import read_gain_history
    path = tmp_path / 'history.yaml'
    path.write_text(
        yaml.safe_dump(
            dict(past=[
                dict(architecture='fcn', miou=0.3, curve=curve),
                dict(architecture='unet', miou=0.2)
            ])))
    with pytest.raises(ValueError, match=message) as err:
        read_gain_history(str(path))
    assert 'past' in str(err.value)


def test_a_history_with_curves_gives_the_prior_and_the_gains(tmp_path):
    from mmseg_trf.apis.scoring import (read_architecture_history,
                                        read_gain_history)
    path = tmp_path / 'history.yaml'
    entries = [
        dict(architecture='fcn', miou=0.3, curve=[[50, 0.1], [100, 0.3]]),
        dict(architecture='unet', miou=0.2)
    ]
    path.write_text(yaml.safe_dump(dict(past=entries)))
    assert read_architecture_history(str(path)) == dict(fcn=1.0, unet=0.5)
    gains = read_gain_history(str(path))
    # one run in all: pooled, best at 100 over best at 50
    assert gains.gain('fcn', Fraction(1, 2)) == pytest.approx(3.0)
    del entries[0]['curve']
    path.write_text(yaml.safe_dump(dict(past=entries)))
    with pytest.raises(ValueError, match='no entry has a curve'):
        read_gain_history(str(path))


def test_a_history_entry_may_carry_a_curve_per_finetuning_seed(tmp_path):
    from mmseg_trf.apis.scoring import read_gain_history
    path = tmp_path / 'history.yaml'
    seeds = [[[50, 0.1], [100, 0.3]], [[50, 0.2], [100, 0.3]]]
    path.write_text(
        yaml.safe_dump(
            dict(past=[
                dict(architecture='fcn', miou=0.3, curves=seeds),
                dict(architecture='unet', miou=0.2)
            ])))
    # two runs, pooled: the median of 3.0 and 1.5
    assert read_gain_history(str(path)).gain('fcn', Fraction(
        1, 2)) == pytest.approx(2.25)


@pytest.mark.parametrize('entry, message', [
    (dict(curve=[[100, 0.3]], curves=[[[100, 0.3]]]), 'curve or curves'),
    (dict(curves=[]), 'one or more curves'),
    (dict(curves=[[[100, 0.3]], [[100, 30]]]), r'outside \[0, 1\]'),
])
def test_bad_curves_in_a_history_are_named(tmp_path, entry, message):
    from mmseg_trf.apis.scoring import read_gain_history
    path = tmp_path / 'history.yaml'
    path.write_text(
        yaml.safe_dump(
            dict(past=[
                dict(architecture='fcn', miou=0.3, **entry),
                dict(architecture='unet', miou=0.2)
            ])))
    with pytest.raises(ValueError, match=message):
        read_gain_history(str(path))


def test_ground_truth_is_checked_before_scoring(tmp_path):
    tool = score_sources_tool()
    sources = tmp_path / 'sources.yaml'
    sources.write_text(
        yaml.safe_dump(
            [dict(name='a', config='a.py'),
             dict(name='b', config='b.py')]))
    truth = tmp_path / 'truth.yaml'
    truth.write_text(yaml.safe_dump(dict(a='high', b=0.3)))
    args = tool.parse_args(
        ['t.py', '--sources',
         str(sources), '--ground-truth',
         str(truth)])
    with pytest.raises(ValueError, match="a: mIoU 'high' is not a number"):
        tool.load_sources(args)
    truth.write_text(yaml.safe_dump(dict(a=0.2, b=0.3, typo_c=0.5)))
    with pytest.warns(UserWarning, match=r"not scored: \['typo_c'\]"):
        loaded = tool.load_sources(args)
    assert [s.miou for s in loaded] == [0.2, 0.3]

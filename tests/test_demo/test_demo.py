"""The embedded demo: scene generator, scenarios, and the quick mode end to
end (which is also the benchmark runner's toy grid: 2 sources x 1 target).
"""
import glob
import hashlib
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmseg_trf.benchmark import BenchmarkRunner, BenchmarkSpec
from mmseg_trf.demo import DemoBuilder, Scenario, label_space
from mmseg_trf.synthetic import SceneStyle, render_scene, write_cityscapes
from mmseg_trf.synthetic.scenes import _Street
from mmseg_trf.utils.yaml_files import read_yaml
from ..conftest import ROOT, run_tool

QUICK = osp.join(ROOT, 'configs', 'demo', 'scenario_quick.yaml')
DEFAULT = osp.join(ROOT, 'configs', 'demo', 'scenario_default.yaml')


def digest(folder):
    sha = hashlib.sha256()
    for path in sorted(folder.rglob('*.png')):
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def test_generator_is_deterministic_for_a_seed(tmp_path):
    style = SceneStyle(palette_shift=0.4, palette_seed=2, blur_sigma=0.5)
    for run in ('a', 'b', 'c'):
        write_cityscapes(
            str(tmp_path / run),
            'train',
            'x',
            3,
            style, (40, 80),
            seed=0 if run != 'c' else 1)
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert digest(tmp_path / 'a') != digest(tmp_path / 'c')


@pytest.mark.parametrize(
    'task', ['cityscapes19', 'coarse', {
        'subset': ['road', 'car', 'sky']
    }])
def test_label_maps_are_valid(task, tmp_path):
    space = label_space(task)
    write_cityscapes(
        str(tmp_path),
        'train',
        'x',
        4,
        SceneStyle(), (48, 96),
        seed=3,
        label_map=None if space.identity else space)
    for path in tmp_path.rglob('*labelTrainIds.png'):
        labels = np.asarray(Image.open(path))
        assert labels.shape == (48, 96)
        assert set(np.unique(labels)) <= set(range(len(space.classes))) | {255}
    if space.identity:  # labelIds are the raw Cityscapes ids of the same
        ids = np.asarray(Image.open(next(tmp_path.rglob('*labelIds.png'))))
        assert set(np.unique(ids)) <= set(range(34))


def test_scenes_look_like_streets():
    image, labels = render_scene(
        np.random.default_rng(0), SceneStyle(), (64, 128))
    assert image.shape == (64, 128, 3) and image.dtype == np.uint8
    top, bottom = labels[:5], labels[-5:]
    assert (top == 10).mean() > 0.3  # sky above
    assert np.isin(bottom, [0, 1, 9]).mean() > 0.5  # road/sidewalk/terrain


def test_density_and_object_scale_control_the_things():

    def thing_share(style):
        return np.mean([
            (render_scene(np.random.default_rng(seed), style, (64, 128))[1]
             >= 11).mean() for seed in range(20)
        ])

    assert thing_share(SceneStyle(density=0.2)) < thing_share(SceneStyle())
    assert thing_share(SceneStyle(object_scale=0.5)) < thing_share(
        SceneStyle(object_scale=1.5))


def test_the_street_recedes_to_its_vanishing_point():
    street = _Street.draw(np.random.default_rng(0), SceneStyle(), 64, 128)
    assert street.ground_x(street.horizon, 1.0) == street.vanish_x
    assert street.ground_x(street.depth_y(1.0),
                           -1.0) == pytest.approx(street.vanish_x -
                                                  street.road_half)
    assert street.depth_y(0.5) == pytest.approx(
        (street.horizon + street.height) / 2)


def test_domains_differ_in_appearance():
    near = SceneStyle(palette_shift=0.1, palette_seed=1)
    far = SceneStyle(palette_shift=0.9, palette_seed=1)
    base = SceneStyle()
    distance = lambda a, b: np.abs(a.palette() - b.palette()).mean()  # noqa
    assert distance(base, near) < distance(base, far)


def test_a_local_shift_recolours_only_its_classes(tmp_path):
    base = SceneStyle()
    local = SceneStyle(
        palette_shift=0.9, palette_seed=4, shifted_classes=(0, 13))
    changed = np.abs(local.palette() - base.palette()).sum(1) > 0
    assert np.flatnonzero(changed).tolist() == [0, 13]
    np.testing.assert_array_equal(
        local.palette()[[0, 13]],
        SceneStyle(palette_shift=0.9, palette_seed=4).palette()[[0, 13]])
    scenario = Scenario.from_file(DEFAULT.replace('default', 'local_shift'))
    assert scenario.style('street').shifted_classes == (0, 1, 13)
    data = read_yaml(DEFAULT)
    data['domains']['near']['shifted_classes'] = ['road', 'roads']
    with pytest.raises(ValueError, match="'roads' is neither"):
        Scenario.from_dict(data)


def test_scenarios_parse_and_reject_typos(tmp_path):
    default = Scenario.from_file(DEFAULT)
    assert len(default.architectures) >= 3
    assert len(default.source_data) * len(default.architectures) >= 12
    bad = dict(vars(Scenario.from_file(QUICK)))
    bad['source_data'] = [dict(domain='nowhere', task='fine')]
    bad['training'] = vars(bad['training'])
    bad['finetune'] = vars(bad['finetune'])
    bad['proxies'] = {k: vars(v) for k, v in bad['proxies'].items()}
    with pytest.raises(ValueError, match='nowhere'):
        Scenario.from_dict(bad)
    with pytest.raises(ValueError, match='unknown keys'):
        Scenario.from_dict(dict(bad, iterations=3))


def test_a_scenario_inherits_its_base():
    shared = Scenario.from_file(
        osp.join(ROOT, 'configs', 'demo', 'scenario_shared_arch.yaml'))
    default = Scenario.from_file(DEFAULT)
    assert shared.architectures == ['pspnet']
    assert len(shared.source_data) == 7
    assert shared.domains == default.domains
    assert shared.finetune == default.finetune


def test_a_source_may_be_trained_on_some_architectures_only(tmp_path):
    zoo = Scenario.from_file(
        osp.join(ROOT, 'configs', 'demo', 'scenario_zoo_mix.yaml'))
    spec = read_yaml(DemoBuilder(zoo, str(tmp_path), seed=0).write_configs())
    names = [source['name'] for source in spec['sources']]
    assert len(names) == 8 and len(set(names)) == 8
    assert 'unet_far-fine-900it' in names and 'fcn8s_far-fine-900it' \
        not in names
    assert {n.split('_')[0] for n in names} == set(zoo.architectures)
    raw = read_yaml(DEFAULT)
    raw['source_data'][0]['architectures'] = ['unet']  # not in the zoo
    with pytest.raises(ValueError, match="architecture 'unet' is not in"):
        Scenario.from_dict(raw)


@pytest.mark.parametrize(
    'path',
    sorted(glob.glob(osp.join(ROOT, 'configs', 'demo', 'scenario_*.yaml'))),
    ids=osp.basename)
def test_every_scenario_writes_a_benchmark_of_distinct_sources(path, tmp_path):
    scenario = Scenario.from_file(path)
    spec = read_yaml(
        DemoBuilder(scenario, str(tmp_path), seed=0).write_configs())
    names = [source['name'] for source in spec['sources']]
    assert len(names) >= 2 and len(set(names)) == len(names)
    assert {n.split('_')[0] for n in names} <= set(scenario.architectures)


@pytest.fixture(scope='module')
def quick_demo(tmp_path_factory):
    work = tmp_path_factory.mktemp('demo')
    proc = run_tool('demo.py', QUICK, '--work-dir', work, timeout=900)
    return work, proc.stdout


def test_quick_demo_runs_end_to_end(quick_demo):
    work, out = quick_demo
    report = work / 'benchmark' / 'report'
    text = (report / 'report.md').read_text()
    for section in ('Table 2', 'Table 3', 'Ground truth',
                    'Source selection: intervals, regret and baselines',
                    'Which source would each metric choose',
                    'Scoring time vs finetuning time',
                    'A history for later targets'):
        assert section in text, section
    assert (report / 'fig4_score_vs_miou_target.png').is_file()
    assert list(report.glob('fig5_weights_*.png'))
    assert (report / 'fig6_pixels.png').is_file()
    # each demo source names its family: the target's runs as a history
    assert '`history.yaml`: the finetuning results of target' in text
    assert (report / 'history.yaml').is_file()
    assert '[demo] report and figures:' in out
    assert 'Failed steps' not in text
    assert "proxy 'short': Spearman with the ground truth" in text


def test_curves_and_proxies_are_kept_apart_from_the_truth(quick_demo):
    work, _ = quick_demo
    spec = BenchmarkSpec.from_file(str(work / 'configs' / 'benchmark.yaml'))
    results = BenchmarkRunner(
        spec, str(work / 'benchmark'), echo=lambda line: None).run()
    names = {s.name for s in spec.sources}
    assert set(results['truth']['target']) == names
    assert set(results['proxy_truth']['short']['target']) == names
    assert set(results['source_miou']) == names
    for source in names:
        vanilla, = results['finetunes'][('target', source, 'vanilla')]
        short, = results['finetunes'][('target', source, 'proxy-short')]
        assert [it for it, _ in vanilla['curve']] == [10, 20]
        assert [it for it, _ in short['curve']] == [10]
        assert vanilla['miou'] == max(m for _, m in vanilla['curve'])
        assert results['truth']['target'][source] == vanilla['miou']
        assert results['proxy_truth']['short']['target'][source] == \
            short['miou']


def test_budgeted_selection_runs_rungs_as_cached_steps(quick_demo):
    import json
    work, _ = quick_demo
    spec = work / 'configs' / 'benchmark.yaml'
    args = ('select_source.py', spec, '--work-dir', work / 'benchmark',
            '--max-iters', 20, '--min-iters', 10, '--width', 2)
    out = run_tool(*args, timeout=900).stdout
    found = json.loads(
        (work / 'benchmark' / 'selection' / 'target.json').read_text())
    # ordered by the spec's first ranking: the tools' default fusion
    assert found['metric'] == 'fusion'
    # both candidates to 10 iterations, the better one is picked
    assert found['width'] == 2 and len(found['rungs']) == 1
    rung = found['rungs'][0]
    assert found['score'] == 'best'
    assert rung['iters'] == 10 and set(rung['score']) == set(found['order'])
    assert found['pick'] == max(found['order'], key=rung['score'].get)
    assert found['iterations'] == 20 and found['cost'] == 0.5
    assert '_iters10 ...' in out  # a progress line per rung step
    assert 'without `--gain-history`' in out  # unscaled rungs, said so
    again = run_tool(*args, timeout=900).stdout
    assert ' ...' not in again  # every step cached
    assert f"**Pick: {found['pick']}**" in again
    # ranked by level: the same cached steps, each rung scored by the mean
    # validation of its second half
    level = run_tool(*args, '--rung-score', 'level', timeout=900).stdout
    assert ' ...' not in level and 'mean validation mIoU' in level
    by_level = json.loads(
        (work / 'benchmark' / 'selection' / 'target.json').read_text())
    assert by_level['score'] == 'level'
    scores = by_level['rungs'][0]['score']
    assert by_level['pick'] == max(scores, key=scores.get)
    # the metric's pick kept: it runs every rung, and the last rung's best
    # is picked (its first rung cached from the plain search)
    kept_out = run_tool(*args, '--keep-first', timeout=900).stdout
    kept = json.loads(
        (work / 'benchmark' / 'selection' / 'target.json').read_text())
    assert kept['keep_first'] and 'pick kept to the last rung' in kept_out
    assert kept['rungs'][0] == found['rungs'][0]
    assert all(kept['order'][0] in r['score'] for r in kept['rungs'])
    last = kept['rungs'][-1]['score']
    assert kept['pick'] == max(last, key=last.get)
    assert len(
        kept['rungs']) == (1 if found['pick'] == found['order'][0] else 2)
    # a share of the sources: the top half of two is the metric's first,
    # picked without finetuning
    run_tool(*args[:-1], '1/2', timeout=900)
    half = json.loads(
        (work / 'benchmark' / 'selection' / 'target.json').read_text())
    assert half['width'] == 1 and half['rungs'] == []
    assert half['pick'] == half['order'][0] and half['iterations'] == 0


def test_budgeted_selection_with_a_history_orders_by_its_fusion(
        quick_demo, tmp_path):
    """A spec with an architecture history and each source's family:
    the scored ranking and the search order by 'fusion + architecture'."""
    import json

    import yaml
    work, _ = quick_demo
    with open(work / 'configs' / 'benchmark.yaml') as f:
        spec = yaml.safe_load(f)
    for index, source in enumerate(spec['sources']):
        source['architecture'] = f'arch{index}'
    history = {
        'past': [
            dict(architecture=source['architecture'], miou=0.1 * (index + 1))
            for index, source in enumerate(spec['sources'])
        ]
    }
    (tmp_path / 'history.yaml').write_text(yaml.safe_dump(history))
    spec['scoring']['architecture_history'] = str(tmp_path / 'history.yaml')
    (tmp_path / 'spec.yaml').write_text(yaml.safe_dump(spec))
    run_tool(
        'select_source.py',
        tmp_path / 'spec.yaml',
        '--work-dir',
        work / 'benchmark',
        '--max-iters',
        20,
        '--min-iters',
        10,
        '--width',
        1,
        timeout=900)
    found = json.loads(
        (work / 'benchmark' / 'selection' / 'target.json').read_text())
    assert found['metric'] == 'fusion + architecture'
    pixels = BenchmarkSpec.from_file(str(tmp_path /
                                         'spec.yaml')).scoring.num_pixels
    ranking = (
        work / 'benchmark' / 'scores' / 'target' / f'pixels-{pixels}' /
        'ranking.json')
    scores = {
        s['name']: s['metrics']['fusion + architecture']['mean']
        for s in json.loads(ranking.read_text())['sources']
    }
    assert found['order'] == sorted(scores, key=lambda n: -scores[n])
    assert found['pick'] == found['order'][0]  # width 1: no finetuning
    # with curves, the history scales each rung by the family's median gain
    # to the full budget: arch0 gains 4x after a quarter of it, arch1 none
    curves = dict(arch0=[[10, 0.1], [40, 0.4]], arch1=[[10, 0.3], [40, 0.3]])
    gain_history = {
        f'past{i}': [
            dict(architecture=a, miou=c[-1][1], curve=c)
            for a, c in curves.items()
        ]
        for i in range(4)
    }
    (tmp_path / 'gains.yaml').write_text(yaml.safe_dump(gain_history))
    search = ('select_source.py', tmp_path / 'spec.yaml', '--work-dir',
              work / 'benchmark', '--max-iters', 20, '--min-iters', 10,
              '--width', 2)
    run_tool(*search, timeout=900)
    plain = json.loads(
        (work / 'benchmark' / 'selection' / 'target.json').read_text())
    out = run_tool(
        *search,
        '--gain-history',
        tmp_path / 'gains.yaml',
        '--full-iters',
        40,
        timeout=900).stdout
    assert ' ...' not in out  # the same cached rung steps
    assert 'scaled by past gains to 40 iterations' in out
    assert 'without `--gain-history`' not in out
    scaled = json.loads(
        (work / 'benchmark' / 'selection' / 'target.json').read_text())
    family = {s['name']: s['architecture'] for s in spec['sources']}
    raw = plain['rungs'][0]['score']
    assert scaled['scaled'] == 40 and plain['scaled'] is None
    assert scaled['rungs'][0]['score'] == pytest.approx(
        {n: raw[n] * dict(arch0=4.0, arch1=1.0)[family[n]]
         for n in raw})
    bad = run_tool(
        *search, '--gain-history', tmp_path / 'gains.yaml', check=False)
    assert bad.returncode and 'go together' in bad.stderr
    # sources without a family: refused before any step runs
    for source in spec['sources']:
        del source['architecture']
    (tmp_path / 'unnamed.yaml').write_text(yaml.safe_dump(spec))
    unnamed = run_tool(
        'select_source.py',
        tmp_path / 'unnamed.yaml',
        *search[2:],
        '--gain-history',
        tmp_path / 'gains.yaml',
        '--full-iters',
        40,
        check=False)
    assert unnamed.returncode and "each source's architecture" in \
        unnamed.stderr


def test_second_run_is_served_from_the_cache(quick_demo):
    work, _ = quick_demo
    spec = BenchmarkSpec.from_file(str(work / 'configs' / 'benchmark.yaml'))
    lines = []
    BenchmarkRunner(spec, str(work / 'benchmark'), echo=lines.append).run()
    assert lines == []  # every step was already done


def test_a_failing_source_does_not_stop_the_grid(quick_demo, tmp_path):
    work, _ = quick_demo
    spec = BenchmarkSpec.from_file(str(work / 'configs' / 'benchmark.yaml'))
    broken = tmp_path / 'broken.py'
    broken.write_text("model = dict(type='NoSuchModel')\n")
    spec.sources[0].config = str(broken)
    spec.sources[0].name = 'broken'
    results = BenchmarkRunner(
        spec, str(work / 'benchmark'), echo=lambda line: None).run()
    assert 'train-source_broken' in results['failures']
    assert results['checkpoints']['broken'] is None
    assert results['truth']['target']  # the other source went on


def test_a_step_reruns_when_its_inputs_change(tmp_path):
    spec = BenchmarkSpec(sources=[], targets=[])
    runner = BenchmarkRunner(spec, str(tmp_path), echo=lambda line: None)
    work_dir = tmp_path / 'work'
    calls = []

    def work():
        work_dir.mkdir(exist_ok=True)
        (work_dir / f'run{len(calls)}').touch()
        calls.append(1)
        return dict(value=len(calls))

    first = runner.step('x', work, lambda: dict(lr=1), str(work_dir))
    again = runner.step('x', work, lambda: dict(lr=1), str(work_dir))
    changed = runner.step('x', work, lambda: dict(lr=2), str(work_dir))
    assert first == again and first['value'] == 1
    assert changed['value'] == 2 and len(calls) == 2
    assert [p.name for p in work_dir.iterdir()] == ['run1']  # no resume


def test_fingerprints_follow_configs_data_and_checkpoints(tmp_path):
    from mmseg_trf.benchmark.fingerprint import (checkpoint_fingerprint,
                                                 config_fingerprint)
    root = tmp_path / 'data'
    write_cityscapes(str(root), 'train', 'x', 2, SceneStyle(), (16, 32), 0)
    config = tmp_path / 'data_config.py'
    config.write_text(
        'train_dataloader = dict(dataset=dict(type="CityscapesDataset", '
        f'data_root="{root}", data_prefix=dict(img_path="leftImg8bit/train",'
        ' seg_map_path="gtFine/train"), pipeline=[]))\n')
    before = config_fingerprint(str(config))
    assert config_fingerprint(str(config), {'x': 1}) != before
    label = next(root.rglob('*labelTrainIds.png'))
    os.utime(label, ns=(1, 1))
    assert config_fingerprint(str(config)) == before  # memoised for a run
    from mmseg_trf.benchmark import fingerprint
    fingerprint._config_fingerprint.cache_clear()
    assert config_fingerprint(str(config)) != before  # a data file changed
    weights = tmp_path / 'a.pth'
    weights.write_bytes(b'1')
    digest = checkpoint_fingerprint(str(weights))
    weights.write_bytes(b'22')
    assert checkpoint_fingerprint(str(weights)) != digest


def test_an_edited_domain_renders_only_its_own_city(tmp_path):
    from mmseg_trf.demo import DemoBuilder
    scenario = Scenario.from_file(QUICK)
    DemoBuilder(scenario, str(tmp_path), seed=0).write_data()
    images = tmp_path / 'data' / 'cityscapes' / 'leftImg8bit' / 'train'

    def rerender():
        stamps = {p: p.stat().st_mtime_ns for p in images.rglob('*.png')}
        DemoBuilder(scenario, str(tmp_path), seed=0).write_data()
        return {
            p.parent.name
            for p, stamp in stamps.items()
            if not p.exists() or p.stat().st_mtime_ns != stamp
        }

    assert rerender() == set()
    far = next(d.name for d in scenario.source_data if d.domain == 'far')
    scenario.domains['far'] = dict(scenario.domains['far'], blur_sigma=2.0)
    assert rerender() == {far}
    scenario.source_images = 20
    assert rerender() == {d.name for d in scenario.source_data}
    assert len(list((images / far).glob('*.png'))) == 20  # none left over


# a second quick demo from scratch; the generator's determinism is checked
# in the default suite
@pytest.mark.slow
def test_the_same_seed_gives_identical_scores_and_truth(quick_demo, tmp_path):
    work, _ = quick_demo
    run_tool('demo.py', QUICK, '--work-dir', tmp_path, timeout=900)

    def outcome(folder):
        spec = BenchmarkSpec.from_file(
            str(folder / 'configs' / 'benchmark.yaml'))
        results = BenchmarkRunner(
            spec, str(folder / 'benchmark'), echo=lambda line: None).run()
        scores = {
            s['name']: {
                m: r['values']
                for m, r in s['metrics'].items()
            }
            for s in results['scores']['target']['ranking']['sources']
        }
        return results['truth'], scores

    assert outcome(work) == outcome(tmp_path)


def test_benchmark_tool_exits_1_naming_a_failed_step(quick_demo, tmp_path):
    import yaml
    work, _ = quick_demo
    spec = yaml.safe_load((work / 'configs' / 'benchmark.yaml').read_text())
    broken = tmp_path / 'broken.py'
    broken.write_text("model = dict(type='NoSuchModel')\n")
    spec['sources'].append(
        dict(spec['sources'][0], name='broken', config=str(broken)))
    path = tmp_path / 'spec.yaml'
    path.write_text(yaml.safe_dump(spec))
    proc = run_tool(
        'benchmark.py',
        path,
        '--work-dir',
        work / 'benchmark',
        check=False,
        timeout=900)
    assert proc.returncode == 1
    assert 'train-source_broken' in proc.stdout
    assert 'steps failed' in proc.stdout


def test_an_edited_protocol_reruns_only_what_it_changes(quick_demo):
    work, _ = quick_demo
    spec = BenchmarkSpec.from_file(str(work / 'configs' / 'benchmark.yaml'))
    spec.finetune.options['train_cfg.max_iters'] = 10
    lines = []
    BenchmarkRunner(spec, str(work / 'benchmark'), echo=lines.append).run()
    rerun = [line.split()[1] for line in lines if line.endswith(' ...')]
    assert rerun and all(
        key.startswith(('finetune_', 'score_')) for key in rerun)
    assert any('_vanilla_' in key for key in rerun)


@pytest.mark.parametrize('edit, message', [
    (dict(weighting=dict(metrics=['otce'])), r"benchmark spec: unknown keys "
     r"\['weighting'\]"),
    (dict(scoring=dict(num_pixel=10)),
     r"scoring: unknown keys \['num_pixel'\]"),
    (dict(sources=[dict(name='a', config='c.py')]),
     r'sources\[0\]: .*missing'),
])
def test_benchmark_spec_typos_are_named(edit, message):
    data = dict(
        sources=[
            dict(
                name='a',
                config='c.py',
                dataset='d.py',
                finetune_config='f.py')
        ],
        targets=[dict(name='t', dataset='t.py')])
    with pytest.raises(ValueError, match=message):
        BenchmarkSpec.from_dict(dict(data, **edit))


def test_scenario_domain_typos_are_named():
    data = Scenario.from_file(QUICK)
    raw = dict(
        vars(data),
        training=vars(data.training),
        finetune=vars(data.finetune),
        proxies={
            k: vars(v)
            for k, v in data.proxies.items()
        },
        source_data=[vars(s) for s in data.source_data])
    raw['domains'] = dict(raw['domains'], far=dict(blur_sigmaa=1.0))
    with pytest.raises(
            ValueError, match=r"domains.far: unknown keys "
            r"\['blur_sigmaa'\]"):
        Scenario.from_dict(raw)


def test_configs_name_the_data_absolutely_whatever_the_folder_spelling(
        tmp_path, monkeypatch):
    """``make demo`` (a relative folder) and the studies (absolute) must
    write the same configs, or each would invalidate the other's cache."""
    monkeypatch.chdir(tmp_path)
    scenario = Scenario.from_file(QUICK)
    relative = DemoBuilder(scenario, 'demo', 0)
    relative.write_configs()
    absolute = DemoBuilder(scenario, str(tmp_path / 'demo'), 0)
    assert relative.data_root == absolute.data_root == str(
        tmp_path / 'demo' / 'data' / 'cityscapes')
    text = (tmp_path / 'demo' / 'configs' / 'datasets' /
            'target.py').read_text()
    assert f"'{tmp_path}/demo/data/cityscapes'" in text

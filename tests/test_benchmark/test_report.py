"""The benchmark report's history of its targets for later ones."""
from types import SimpleNamespace

from mmseg_trf.apis.scoring import read_history
from mmseg_trf.benchmark import BenchmarkSource
from mmseg_trf.benchmark.report import history_line


def source(name, architecture=None):
    return BenchmarkSource(
        name,
        f'{name}.py',
        'data.py',
        'finetune.py',
        architecture=architecture)


def run(*curve):
    return dict(miou=max(m for _, m in curve), curve=list(curve))


def test_the_history_holds_the_vanilla_runs_of_sources_that_name_a_family(
        tmp_path):
    spec = SimpleNamespace(
        sources=[source('a', 'fcn'),
                 source('b', 'unet'),
                 source('c')])
    results = dict(
        finetunes={
            ('aachen', 'a', 'vanilla'): [run((10, 0.1), (20, 0.3))],
            ('aachen', 'b', 'vanilla'):
            [run((10, 0.2), (
                20,
                0.2)), run((10, 0.1), (20, 0.4))],
            ('aachen', 'c', 'vanilla'): [run((10, 0.5), (20, 0.6))],
            ('aachen', 'a', 'trf-otce'): [run((10, 0.9), (20, 0.9))],
            ('bonn', 'a', 'vanilla'): [run((10, 0.1), (20, 0.3))],
            ('bonn', 'b', 'vanilla'): [],  # failed
        })
    line = history_line(results, spec, str(tmp_path))
    assert 'aachen' in line and 'bonn' not in line
    assert '--full-iters 20' in line
    target, = read_history(str(tmp_path / 'history.yaml'))
    assert [(e['architecture'], e['miou'], len(e['curves']))
            for e in target] == [('fcn', 0.3, 1), ('unet', 0.3, 2)]


def test_without_families_the_report_says_why_no_history_was_written(tmp_path):
    spec = SimpleNamespace(sources=[source('a'), source('b')])
    results = dict(
        finetunes={
            ('aachen', 'a', 'vanilla'): [run((10, 0.1), (20, 0.3))],
            ('aachen', 'b', 'vanilla'): [run((10, 0.2), (20, 0.2))],
        })
    (tmp_path / 'history.yaml').write_text('an earlier run\'s history')
    line = history_line(results, spec, str(tmp_path))
    assert line.startswith('No history written') and 'architecture' in line
    assert not (tmp_path / 'history.yaml').exists()  # none left to mislead

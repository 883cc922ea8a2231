"""tools/score_sources.py end to end, in one and in two processes."""
import json
import os.path as osp

import pytest

from ..conftest import run_tool
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
    proc = run_tool('score_sources.py', workspace['target'], '--sources',
                    workspace['sources_file'], *ARGS, '--work-dir', tmp_path)
    assert '| rank | source |' in proc.stdout
    for name in ('ranking.md', 'ranking.csv', 'ranking.json',
                 'score_vs_miou.png', 'score_sources.log'):
        assert osp.isfile(tmp_path / name), name
    scores, data = table(tmp_path)
    assert len(scores) == 3 * 5
    assert set(
        data['correlations']) == {'otce', 'leep', 'logme', 'hscore', 'nce'}


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


def test_cli_rejects_unknown_metric(workspace, tmp_path):
    proc = run_tool(
        'score_sources.py',
        workspace['target'],
        '--sources',
        workspace['sources_file'],
        '--metrics',
        'magic',
        check=False)
    assert proc.returncode != 0 and 'magic' in proc.stderr

"""The quick demo's benchmark on a real Slurm cluster (slow).

Needs a running cluster: ``sudo bash tests/slurm/local_cluster.sh`` starts a
single-node one on this machine (Debian's slurmctld, slurmd and munge), then
``pytest -m slow tests/test_benchmark/test_slurm.py``.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from mmseg_trf.benchmark import BenchmarkSpec, SlurmOptions
from mmseg_trf.benchmark.executor import SlurmExecutor
from mmseg_trf.demo import DemoBuilder, Scenario
from ..conftest import ROOT
from ..test_demo.test_demo import QUICK
from ..test_tools.user_config import write_user_config

pytestmark = pytest.mark.slow


def slurm_is_up() -> bool:
    if shutil.which('sinfo') is None:
        return False
    out = subprocess.run(['sinfo', '--noheader', '--format=%t'],
                         capture_output=True,
                         text=True)
    return out.returncode == 0 and any(
        state.startswith(('idle', 'mix', 'alloc'))
        for state in out.stdout.split())


def benchmark(spec, work_dir, wait=True):
    cmd = [
        sys.executable,
        os.path.join(ROOT, 'tools', 'benchmark.py'),
        str(spec), '--work-dir',
        str(work_dir)
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True)
    if wait:
        out, _ = proc.communicate(timeout=3600)
        return proc.returncode, out
    return proc


def grid(work_dir):
    path = work_dir / 'status.json'
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def outcome(work_dir):
    """Ground truth and scores of a finished grid, from its cached steps:
    finetuning step -> mIoU, and (target, pixels, source, metric,
    repetition) -> score."""
    steps = {
        p.stem: json.loads(p.read_text())
        for p in (work_dir / 'steps').glob('*.json')
    }
    truth = {
        k: v['miou']
        for k, v in steps.items() if k.startswith('finetune_')
    }
    scores = {}
    for key, step in steps.items():
        if key.startswith('score_'):  # the key's digest holds paths: drop it
            for source in step['ranking']['sources']:
                for metric, result in source['metrics'].items():
                    for i, value in enumerate(result['values']):
                        scores[(key.rsplit('_', 1)[0], source['name'], metric,
                                i)] = value
    return truth, scores


@pytest.fixture(scope='module')
def specs(tmp_path_factory):
    """The quick demo's spec, and the same grid on Slurm with one broken
    source more (retried once, then reported)."""
    if not slurm_is_up():
        pytest.skip('no Slurm cluster: sudo bash tests/slurm/local_cluster.sh')
    work = tmp_path_factory.mktemp('slurm')
    local = DemoBuilder(Scenario.from_file(QUICK), str(work / 'demo'),
                        0).build()
    data = yaml.safe_load(open(local))
    broken = work / 'broken.py'
    broken.write_text("model = dict(type='NoSuchModel')\n")
    data['sources'].append(
        dict(data['sources'][0], name='broken', config=str(broken)))
    data.update(
        executor='slurm',
        slurm=dict(gpus=False, cpus_per_task=1, retries=1, poll_seconds=2))
    on_slurm = work / 'slurm.yaml'
    on_slurm.write_text(yaml.safe_dump(data))
    BenchmarkSpec.from_file(str(on_slurm))  # valid
    return work, local, on_slurm


def test_the_quick_grid_on_slurm_matches_a_local_run_and_survives_a_restart(
        specs):
    work, local, on_slurm = specs
    start = time.perf_counter()
    code, out = benchmark(local, work / 'local')
    local_seconds = time.perf_counter() - start
    assert code == 0, out[-3000:]

    start = time.perf_counter()
    runner = benchmark(on_slurm, work / 'cluster', wait=False)
    deadline = time.time() + 1800
    while time.time() < deadline:  # kill the runner mid-grid
        states = [s['state'] for s in grid(work / 'cluster').values()]
        if 'done' in states and {'queued', 'running'} & set(states):
            break
        time.sleep(1)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    code, out = benchmark(on_slurm, work / 'cluster')
    slurm_seconds = time.perf_counter() - start
    print(f'local {local_seconds:.0f} s, Slurm {slurm_seconds:.0f} s')

    # the broken source: retried once, then named with its log; the rest ran
    assert code == 1
    assert 'train-source_broken' in out
    log = grid(work / 'cluster')['train-source_broken']['log']
    assert log.endswith('train.log') and os.path.isfile(log + '.attempt1')
    assert 'NoSuchModel' in open(log).read()
    # no step was submitted twice, across the kill and the restart
    submissions = {
        path: open(path).read().split()
        for path in map(str, (work / 'cluster').rglob('*.jobs'))
    }
    assert submissions
    for path, jobs in submissions.items():
        expected = 2 if 'broken' in path else 1
        assert len(jobs) == expected, (path, jobs)
    # the same report numbers as the local run
    local_truth, local_scores = outcome(work / 'local')
    truth, scores = outcome(work / 'cluster')
    assert truth == pytest.approx(local_truth, abs=1e-4)
    assert scores == pytest.approx(local_scores, abs=1e-6)
    report = (work / 'cluster' / 'report' / 'report.md').read_text()
    assert 'train-source_broken' in report


def test_slurm_train_sh_trains_on_two_cpu_tasks(tmp_path, cityscapes_root):
    if not slurm_is_up():
        pytest.skip('no Slurm cluster: sudo bash tests/slurm/local_cluster.sh')
    config = write_user_config(tmp_path / 'user.py', cityscapes_root)
    env = dict(
        os.environ,
        GPUS='2',
        GPUS_PER_NODE='0',
        CPUS_PER_TASK='1',
        PYTHON=sys.executable)
    done = subprocess.run([
        os.path.join(ROOT, 'tools', 'slurm_train.sh'), 'debug', 'trf-test',
        str(config), '--work-dir',
        str(tmp_path / 'run')
    ],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'Distributed training: True' in done.stdout
    assert (tmp_path / 'run' / 'iter_4.pth').is_file()


def test_a_distributed_step_runs_srun_over_its_tasks(tmp_path,
                                                     cityscapes_root):
    if not slurm_is_up():
        pytest.skip('no Slurm cluster: sudo bash tests/slurm/local_cluster.sh')
    config = write_user_config(tmp_path / 'user.py', cityscapes_root)
    executor = SlurmExecutor(
        SlurmOptions(gpus=False, cpus_per_task=1, poll_seconds=1), processes=2)
    log = tmp_path / 'run' / 'train.log'
    executor.run(
        'train', [
            sys.executable,
            os.path.join(ROOT, 'tools', 'train.py'),
            str(config), '--work-dir',
            str(tmp_path / 'run')
        ],
        str(log),
        ROOT,
        distributed=True)
    text = log.read_text()
    assert 'Distributed training: True' in text
    assert "launcher = 'slurm'" in text
    assert (tmp_path / 'run' / 'iter_4.pth').is_file()

"""The runner's executors: the Slurm one against a stand-in for sbatch and
squeue (a real cluster is in test_slurm.py, marked slow)."""
import os
import os.path as osp
import signal
import subprocess
import sys
import threading
import time

import pytest

from mmseg_trf.benchmark import (BenchmarkRunner, BenchmarkSpec, SlurmOptions,
                                 StepFailed)
from mmseg_trf.benchmark.executor import LocalExecutor, SlurmExecutor
from ..conftest import run_tool

FAKE = osp.join(osp.dirname(osp.abspath(__file__)), 'fake_slurm')


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """sbatch/squeue stand-ins on PATH; returns the folder of its jobs."""
    jobs = tmp_path / 'jobs'
    jobs.mkdir()
    monkeypatch.setenv('FAKE_SLURM_DIR', str(jobs))
    monkeypatch.setenv('PATH', FAKE + os.pathsep + os.environ['PATH'])
    return jobs


def executor(retries=1, states=None):
    states = [] if states is None else states
    return SlurmExecutor(
        SlurmOptions(gpus=False, retries=retries, poll_seconds=0.1),
        progress=lambda name, state, log: states.append(state),
        echo=lambda line: None)


def python(code):
    return [sys.executable, '-c', code]


def test_a_job_runs_and_its_output_is_its_log(fake_slurm, tmp_path):
    states = []
    log = str(tmp_path / 'step' / 'run.log')
    executor(states=states).run('step', python('print("hello")'), log,
                                str(tmp_path))
    assert 'hello' in open(log).read()
    assert states[0] == 'queued' and states[-1] == 'done'
    assert len(os.listdir(fake_slurm)) == 1


@pytest.mark.parametrize('linger', ['0', '1'])
def test_a_failing_job_is_retried_then_named_with_its_log(
        fake_slurm, tmp_path, monkeypatch, linger):
    # a failed job still in the queue (lingering) is not taken for the retry
    monkeypatch.setenv('FAKE_SLURM_LINGER', linger)
    log = str(tmp_path / 'run.log')
    with pytest.raises(StepFailed, match=r'broken-step.*3 attempts.*run\.log'):
        executor(retries=2).run('broken-step', python('raise SystemExit(3)'),
                                log, str(tmp_path))
    assert len(os.listdir(fake_slurm)) == 3  # first try + 2 retries
    assert osp.isfile(log + '.attempt1') and osp.isfile(log + '.attempt2')


def test_a_retry_that_succeeds_completes_the_step(fake_slurm, tmp_path):
    # fails the first time only: the marker exists at the second attempt
    marker = tmp_path / 'tried'
    code = (f'import os, sys; m = {str(marker)!r}\n'
            'if not os.path.exists(m): open(m, "w"); sys.exit(1)')
    executor(retries=1).run('flaky', python(code), str(tmp_path / 'run.log'),
                            str(tmp_path))
    assert len(os.listdir(fake_slurm)) == 2


def run_in_runner_process(log, release, cwd):
    """An executor in its own process (the 'runner'), waiting on a job that
    finishes once ``release`` exists."""
    job = python(f'import os, time\nwhile not os.path.exists({release!r}): '
                 'time.sleep(0.05)\nprint("finished")')
    code = ('from mmseg_trf.benchmark import SlurmOptions\n'
            'from mmseg_trf.benchmark.executor import SlurmExecutor\n'
            'SlurmExecutor(SlurmOptions(gpus=False, poll_seconds=0.1)).run('
            f'"step", {job!r}, {log!r}, {cwd!r})')
    return subprocess.Popen([sys.executable, '-c', code],
                            cwd=cwd,
                            start_new_session=True)


def test_a_restarted_runner_finds_its_job_instead_of_submitting_again(
        fake_slurm, tmp_path):
    log, release = str(tmp_path / 'run.log'), str(tmp_path / 'release')
    runner = run_in_runner_process(log, release, str(tmp_path))
    deadline = time.time() + 60
    while not os.listdir(fake_slurm) and time.time() < deadline:
        time.sleep(0.05)
    assert os.listdir(fake_slurm), 'the first runner submitted nothing'
    os.killpg(runner.pid, signal.SIGKILL)  # the runner dies, its job lives
    runner.wait()
    # restarted while the job still runs: found by name, waited on
    restarted = threading.Thread(
        target=executor().run,
        args=('step', python('raise SystemExit(1)'), log, str(tmp_path)))
    restarted.start()
    time.sleep(0.5)
    open(release, 'w').close()
    restarted.join(60)
    assert not restarted.is_alive()
    assert len(os.listdir(fake_slurm)) == 1
    assert 'finished' in open(log).read()
    # and once more after it finished: collected from its exit status
    executor().run('step', python('raise SystemExit(1)'), log, str(tmp_path))
    assert len(os.listdir(fake_slurm)) == 1


def test_the_batch_script_asks_for_what_the_spec_says():
    options = SlurmOptions(
        partition='gpu',
        cpus_per_task=8,
        time='04:00:00',
        extra_args=['--account=seg'])
    script = SlurmExecutor(
        options, processes=4).script(['python', 'tools/train.py', 'cfg.py'],
                                     '/w/run.log',
                                     '/repo',
                                     'abc',
                                     distributed=True)
    for line in ('#SBATCH --partition=gpu', '#SBATCH --gres=gpu:4',
                 '#SBATCH --ntasks=4', '#SBATCH --cpus-per-task=8',
                 '#SBATCH --time=04:00:00', '#SBATCH --account=seg',
                 'srun python tools/train.py cfg.py --launcher slurm'):
        assert line in script
    assert '--gres' not in SlurmExecutor(SlurmOptions(gpus=False)).script(
        ['true'], '/w/run.log', '/repo', 'abc', distributed=False)


def test_a_missing_slurm_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(StepFailed, match='squeue not found'):
        executor().run('step', ['true'], str(tmp_path / 'run.log'),
                       str(tmp_path))


def test_local_failures_name_the_step_and_log(tmp_path):
    with pytest.raises(StepFailed, match=r'my-step: exited with 2.*run\.log'):
        LocalExecutor().run('my-step', python('raise SystemExit(2)'),
                            str(tmp_path / 'run.log'), str(tmp_path))


def test_spec_executor_and_slurm_options_are_checked():
    base = dict(sources=[], targets=[])
    spec = BenchmarkSpec.from_dict(
        dict(base, executor='slurm', slurm=dict(partition='p', retries=3)))
    assert spec.slurm.partition == 'p' and spec.slurm.retries == 3
    with pytest.raises(ValueError, match="executor 'slrum'"):
        BenchmarkSpec.from_dict(dict(base, executor='slrum'))
    with pytest.raises(ValueError, match=r"unknown keys \['partiton'\]"):
        BenchmarkSpec.from_dict(dict(base, slurm=dict(partiton='p')))


def test_the_grid_view_lists_each_step_state_and_log(tmp_path):
    lines = []
    runner = BenchmarkRunner(
        BenchmarkSpec(sources=[], targets=[]), str(tmp_path), lines.append)
    runner.progress('train-source_a', 'running', '/logs/a.log')
    runner.progress('train-source_a', 'done', '/logs/a.log')
    runner.progress('finetune_t_a_vanilla_seed0', 'queued', '/logs/f.log')
    assert lines[-1].startswith('[benchmark] grid: 1 queued, 0 running, '
                                '1 done, 0 failed')
    spec = tmp_path / 'spec.yaml'
    spec.write_text('sources: []\ntargets: []\n')
    out = run_tool('benchmark.py', spec, '--work-dir', tmp_path,
                   '--status').stdout.splitlines()
    assert out[0].split() == [
        'queued', 'finetune_t_a_vanilla_seed0', '/logs/f.log'
    ]
    assert out[1].split() == ['done', 'train-source_a', '/logs/a.log']
    assert out[-1] == '1 queued, 0 running, 1 done, 0 failed'


def test_a_distributed_local_step_runs_on_every_process(tmp_path):
    tool = tmp_path / 'tool.py'
    # one write per process: two prints' pieces could interleave in the log
    tool.write_text('import os, sys\n'
                    'os.write(1, f"rank {os.environ[\'RANK\']} '
                    '{sys.argv[1:]}\\n".encode())\n')
    log = tmp_path / 'run.log'
    LocalExecutor(processes=2).run(
        'step', [sys.executable, str(tool), 'x'],
        str(log),
        str(tmp_path),
        distributed=True)
    text = log.read_text()
    for rank in '01':
        assert f"rank {rank} ['x', '--launcher', 'pytorch']" in text

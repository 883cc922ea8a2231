"""One process per work dir, and no step left running by a killed runner."""
import os
import signal
import subprocess
import sys
import time

import pytest

from mmseg_trf.utils import hold_work_dir

HOLD = '''
import sys, time
from mmseg_trf.utils import hold_work_dir
lock = hold_work_dir(sys.argv[1])
print('held', flush=True)
time.sleep(60)
'''


def test_a_held_work_dir_is_refused_naming_the_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(RuntimeError, match=f'process {holder.pid} '):
            hold_work_dir(str(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    # the holder died without cleaning up: its lock is taken over
    lock = hold_work_dir(str(tmp_path))
    assert open(tmp_path / '.mmseg_trf.lock').read().startswith(
        str(os.getpid()))
    lock.close()


RUNNER = '''
import sys
from mmseg_trf.benchmark.executor import LocalExecutor
child = [sys.executable, '-c', 'import time; time.sleep(60)']
LocalExecutor(1, 1, lambda *a: None).run('step', child, sys.argv[1], '.')
'''


def test_a_killed_runner_leaves_no_step_running(tmp_path):
    log = tmp_path / 'step.log'
    runner = subprocess.Popen([sys.executable, '-c', RUNNER, str(log)])
    # the child is started once the runner has imported the package: a
    # minute, not seconds, on two loaded cores
    deadline = time.monotonic() + 60
    children = []
    while not children and time.monotonic() < deadline:
        children = subprocess.run(
            ['pgrep', '-P', str(runner.pid)], capture_output=True,
            text=True).stdout.split()
        time.sleep(0.1)
    child, = map(int, children)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail('the step outlived its killed runner')

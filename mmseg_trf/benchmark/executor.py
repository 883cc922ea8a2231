"""Where a benchmark step's command runs: here, or as a Slurm job.

Both executors take a command, a log path and a step name and return when
the command has finished, raising :class:`StepFailed` if it failed; the
runner's threads wait on them, so the order of the grid (train source ->
finetune -> score -> report) holds for both.

A Slurm step is a batch script next to its log (``<log>.sbatch``) that
writes the command's exit status to ``<log>.exit`` with the digest of the
step; ``<log>.jobs`` lists the ids of every job submitted for it. The exit
file and the job name (``trf-`` + the digest) make the runner restartable:
a job still queued or running is found by its name and waited on, a job
that finished while the runner was down is collected from its exit file,
and nothing is submitted twice.
"""
import ctypes
import hashlib
import os
import os.path as osp
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Union

from ..fileio import atomic_write_text
from ..utils.dist import torchrun_command

STATES = ('queued', 'running', 'done', 'failed')
#: prctl option: the signal a child gets when its parent dies (Linux).
PR_SET_PDEATHSIG = 1
# step name, one of STATES, log path
Progress = Callable[[str, str, str], None]


class StepFailed(RuntimeError):
    """A benchmark step did not complete."""


def _ignore(name: str, state: str, log: str) -> None:
    pass


class Executor:
    """Runs a step's command and returns when it has finished.

    Args:
        progress (callable): Told each step's state changes.
    """

    def __init__(self, progress: Progress = _ignore) -> None:
        self.progress = progress

    def run(self,
            name: str,
            cmd: List[str],
            log: str,
            cwd: str,
            distributed: bool = False) -> None:
        """Run ``cmd`` as step ``name`` with its output in ``log``; raise
        :class:`StepFailed` if it fails.

        Args:
            name (str): The step.
            cmd (list[str]): ``[python, tool, *args]``.
            log (str): Its stdout and stderr go here.
            cwd (str): Its working directory.
            distributed (bool): Run the tool on every process of the step
                (each executor's own launcher, ``--launcher`` added).
        """
        raise NotImplementedError


#: libc's prctl, looked up before any fork (a child of a threaded runner
#: should only call it, not load libraries).
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith('linux') else None


def die_with_parent() -> None:
    """In a child before it runs: on Linux, ask the kernel to end it
    (SIGTERM) when the process that started it dies, so a killed runner
    leaves no step running beside the rerun that would repeat it."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalExecutor(Executor):
    """Runs each command as a subprocess of the runner (torchrun on
    ``processes`` processes when distributed).

    Args:
        processes (int): Processes of a distributed step.
        jobs (int): Steps run side by side; each gets its share of the
            cores as its thread count.
        progress (callable): Told each step's state changes.
    """

    def __init__(self,
                 processes: int = 1,
                 jobs: int = 1,
                 progress: Progress = _ignore) -> None:
        super().__init__(progress)
        self.processes, self.jobs = processes, jobs

    def run(self,
            name: str,
            cmd: List[str],
            log: str,
            cwd: str,
            distributed: bool = False) -> None:
        if distributed:
            cmd = torchrun_command(cmd[1], cmd[2:], self.processes)
        env = dict(os.environ)
        if self.jobs > 1:  # side-by-side runs share the cores
            threads = str(max(1, (os.cpu_count() or 1) // self.jobs))
            env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        os.makedirs(osp.dirname(log), exist_ok=True)
        self.progress(name, 'running', log)
        with open(log, 'w') as f:
            f.write(' '.join(cmd) + '\n')
            f.flush()
            code = subprocess.run(
                cmd,
                stdout=f,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                preexec_fn=die_with_parent).returncode
        if code:
            self.progress(name, 'failed', log)
            raise StepFailed(f'{name}: exited with {code}; see {log}')
        self.progress(name, 'done', log)


@dataclass
class SlurmOptions:
    """How steps are submitted to Slurm (``slurm:`` in a benchmark spec).

    Args:
        partition (str, optional): ``--partition``.
        gpus (bool): Request the spec's ``gpus`` GPUs per step
            (``--gres=gpu:N``); false on a CPU-only cluster. With ``gpus`` > 1
            a step runs ``srun`` over that many tasks with ``--launcher
            slurm``.
        cpus_per_task (int, optional): ``--cpus-per-task``.
        time (str, optional): ``--time`` limit, e.g. ``'04:00:00'``.
        extra_args (list[str]): Further ``sbatch`` arguments.
        retries (int): Resubmissions of a failed job before the step is
            reported failed.
        poll_seconds (float): How often the queue is read.
    """

    partition: Optional[str] = None
    gpus: bool = True
    cpus_per_task: Optional[int] = None
    time: Optional[str] = None
    extra_args: List[str] = field(default_factory=list)
    retries: int = 1
    poll_seconds: float = 10.0

    def sbatch_lines(self, processes: int) -> List[str]:
        """The ``#SBATCH`` options of a step on ``processes`` processes."""
        lines = []
        if self.partition:
            lines.append(f'--partition={self.partition}')
        if self.gpus:
            lines.append(f'--gres=gpu:{processes}')
        if processes > 1:
            lines.append(f'--ntasks={processes}')
        if self.cpus_per_task:
            lines.append(f'--cpus-per-task={self.cpus_per_task}')
        if self.time:
            lines.append(f'--time={self.time}')
        return lines + list(self.extra_args)


def _slurm(*args: str) -> str:
    """Output of a Slurm command; a clear error if Slurm is missing."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except FileNotFoundError as err:
        raise StepFailed(f'{args[0]} not found: is Slurm installed and on '
                         'PATH? (executor: slurm)') from err
    if done.returncode:
        raise StepFailed(f'{" ".join(args)} failed: {done.stderr.strip()}')
    return done.stdout


class SlurmExecutor(Executor):
    """Submits each command as a Slurm batch job and waits for it (``srun``
    over ``processes`` tasks with ``--launcher slurm`` when distributed;
    the job inherits the runner's environment, Slurm's default, and one
    thread per CPU it was given).

    Args:
        options (SlurmOptions): Partition, resources, retries.
        processes (int): Processes (GPUs) per step.
        progress (callable): Told each step's state changes.
        echo (callable): Resubmissions are announced here.
    """

    def __init__(self,
                 options: SlurmOptions,
                 processes: int = 1,
                 progress: Progress = _ignore,
                 echo: Callable[[str], None] = print) -> None:
        super().__init__(progress)
        self.options, self.processes, self.echo = options, processes, echo
        self._lock = threading.Lock()
        self._queue: Dict[str, tuple] = {}
        self._read_at = -float('inf')

    def queue(self) -> Dict[str, tuple]:
        """Job id -> (job name, state) of the user's jobs in the queue,
        read at most once per ``poll_seconds`` for all waiting steps."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.options.poll_seconds:
                out = _slurm('squeue', '--noheader', '--me', '--format',
                             '%j %i %T')
                self._queue = {
                    job: (name, state)
                    for name, job, state in (line.split()
                                             for line in out.splitlines()
                                             if line.strip())
                }
                self._read_at = time.monotonic()
            return dict(self._queue)

    def forget_queue(self) -> None:
        """Read the queue afresh at the next :meth:`queue` (after sbatch).
        """
        with self._lock:
            self._read_at = -float('inf')

    def script(self, cmd: List[str], log: str, cwd: str, digest: str,
               distributed: bool) -> str:
        """The batch script of one step."""
        if distributed:
            cmd = ['srun', *cmd, '--launcher', 'slurm']
        return '\n'.join([
            '#!/usr/bin/env bash',
            *(f'#SBATCH {line}'
              for line in self.options.sbatch_lines(self.processes)),
            f'cd {shlex.quote(cwd)}',
            '# one thread per CPU Slurm gave the job',
            'if [ -n "$SLURM_CPUS_PER_TASK" ]; then',
            '  export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK '
            'MKL_NUM_THREADS=$SLURM_CPUS_PER_TASK',
            'fi',
            f'echo {shlex.quote(shlex.join(cmd))}',
            shlex.join(cmd),
            'code=$?',
            f'echo "$code {digest}" > {shlex.quote(log)}.exit.tmp',
            f'mv {shlex.quote(log)}.exit.tmp {shlex.quote(log)}.exit',
            'exit $code',
            '',
        ])

    def run(self,
            name: str,
            cmd: List[str],
            log: str,
            cwd: str,
            distributed: bool = False) -> None:
        """Submit ``cmd`` (or find its job) and wait until it ends."""
        os.makedirs(osp.dirname(log), exist_ok=True)
        # the step and its log name the job; not the command, which gains
        # --resume once a killed job has left checkpoints
        digest = hashlib.sha256(f'{name}\0{log}'.encode()).hexdigest()[:16]
        job_name = f'trf-{digest}'
        attempts = 1 + max(0, self.options.retries)
        ended = set()  # a failed job can linger in the queue (COMPLETING)
        for attempt in range(1, attempts + 1):
            code = self._finished(log, digest)
            if code is None:
                job = self._job_of(job_name, ended)
                if job is None:
                    job = self._submit(
                        job_name, log,
                        self.script(cmd, log, cwd, digest, distributed))
                    self.progress(name, 'queued', log)
                code = self._wait(name, job, log, digest)
                ended.add(job)
            if code == 0:
                self.progress(name, 'done', log)
                return
            if attempt < attempts:
                self._set_aside(log, attempt)
                self.echo(f'[benchmark] {name}: Slurm job failed ({code}); '
                          f'resubmitting, attempt {attempt + 1} of {attempts}')
        self.progress(name, 'failed', log)
        raise StepFailed(f'{name}: Slurm job failed ({code}) after '
                         f'{attempts} attempts; see {log}')

    @staticmethod
    def _set_aside(log: str, attempt: int) -> None:
        """Keep a failed attempt's log as ``<log>.attempt<N>``."""
        if osp.isfile(log):
            os.replace(log, f'{log}.attempt{attempt}')
        if osp.isfile(f'{log}.exit'):
            os.remove(f'{log}.exit')

    def _finished(self, log: str, digest: str) -> Optional[int]:
        """Exit status this command's job left, if it finished."""
        path = f'{log}.exit'
        if not osp.isfile(path):
            return None
        with open(path) as f:
            code, _, written_for = f.read().strip().partition(' ')
        return int(code) if written_for == digest else None

    def _job_of(self, job_name: str, ended: set) -> Optional[str]:
        """A queued job of this step (left by an earlier runner), not one
        of ``ended``."""
        jobs = [
            job for job, (name, _) in self.queue().items()
            if name == job_name and job not in ended
        ]
        return jobs[-1] if jobs else None

    def _submit(self, job_name: str, log: str, script: str) -> str:
        path = f'{log}.sbatch'
        atomic_write_text(path, script)
        job = _slurm('sbatch', '--parsable', f'--job-name={job_name}',
                     f'--output={log}', path).strip().split(';')[0]
        self.forget_queue()
        with open(f'{log}.jobs', 'a') as f:  # every submission, for the user
            f.write(f'{job}\n')
        return job

    def _wait(self, name: str, job: str, log: str,
              digest: str) -> Union[int, str]:
        """Poll until the job leaves the queue; its exit status, or a
        description of why it has none (cancelled, timed out, node lost).
        """
        state = None
        while True:
            found = self.queue().get(job)
            code = self._finished(log, digest)
            if code is not None:
                return code
            if found is None or found[1] in ('COMPLETED', 'FAILED',
                                             'CANCELLED', 'TIMEOUT',
                                             'NODE_FAIL', 'OUT_OF_MEMORY',
                                             'PREEMPTED'):
                # the exit file is written before the job ends; give the
                # file system one poll to show it
                time.sleep(min(2.0, self.options.poll_seconds))
                code = self._finished(log, digest)
                if code is not None:
                    return code
                return f'job {job} ended without an exit status' + (
                    f', state {found[1]}' if found else '')
            now = 'running' if found[1] in ('RUNNING', 'COMPLETING',
                                            'CONFIGURING') else 'queued'
            if now != state:
                state = now
                self.progress(name, state, log)
            time.sleep(self.options.poll_seconds)


__all__ = [
    'STATES', 'Executor', 'LocalExecutor', 'SlurmExecutor', 'SlurmOptions',
    'StepFailed'
]

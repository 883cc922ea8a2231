"""Starting torch.distributed on machines with and without GPUs."""
import os
import socket
import subprocess
import sys
from typing import List, Sequence

import torch
import torch.distributed as torch_dist
from mmengine.dist import init_dist, is_distributed


def free_port() -> int:
    """A TCP port free on this machine now (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def torchrun_command(script: str, args: Sequence[str],
                     nproc: int) -> List[str]:
    """The command that runs a tool on ``nproc`` local processes (torchrun,
    ``--launcher pytorch``), as ``tools/dist_launch.sh`` does.

    Args:
        script (str): Path of the tool.
        args (Sequence[str]): Its arguments.
        nproc (int): Processes.

    Returns:
        list[str]: The command.
    """
    return [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        str(nproc), '--master_port',
        str(free_port()), script, *args, '--launcher', 'pytorch'
    ]


def init_distributed(launcher: str) -> None:
    """Initialise the process group for ``--launcher`` if not done yet.

    With GPUs this is MMEngine's ``init_dist`` (NCCL). Without, MMEngine
    0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device`` and fails,
    so the group is started here with gloo from torchrun's environment
    variables (or Slurm's, for ``slurm``, which has the same fault);
    MMEngine's runner and ``mmengine.dist`` then find it initialised and use
    it.

    Args:
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    if launcher == 'none' or is_distributed():
        return
    if torch.cuda.is_available():
        init_dist(launcher, backend='nccl')
    elif launcher in ('pytorch', 'slurm'):
        if launcher == 'slurm':
            os.environ.update(slurm_rendezvous(os.environ))
        torch_dist.init_process_group(backend='gloo', init_method='env://')
    else:
        init_dist(launcher, backend='gloo')


def slurm_rendezvous(env: dict) -> dict:
    """torch.distributed's variables from a Slurm task's, as MMEngine's
    ``slurm`` launcher sets them (rank and world size from the task, the
    first node of the job as master), except the port: ``MASTER_PORT`` if
    set, else one derived from the job id, so that two jobs on one node do
    not both take MMEngine's fixed 29500.

    Args:
        env (dict): The task's environment (``SLURM_PROCID``,
            ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_NODELIST``,
            ``SLURM_JOB_ID``).

    Returns:
        dict: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
        ``MASTER_PORT``.
    """
    master = env.get('MASTER_ADDR') or subprocess.run(
        ['scontrol', 'show', 'hostnames', env['SLURM_NODELIST']],
        capture_output=True,
        text=True,
        check=True).stdout.split()[0]
    return dict(
        RANK=env['SLURM_PROCID'],
        WORLD_SIZE=env['SLURM_NTASKS'],
        LOCAL_RANK=env.get('SLURM_LOCALID', '0'),
        MASTER_ADDR=master,
        MASTER_PORT=env.get('MASTER_PORT')
        or str(20000 + int(env.get('SLURM_JOB_ID', 9500)) % 20000))


def finalize_distributed() -> None:
    """Wait for every process, then tear the process group down.

    Leaving it to interpreter exit lets the process that hosts the rendezvous
    store exit while others still talk to it, which can abort it
    ("terminate called without an active exception").
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


__all__ = [
    'init_distributed', 'finalize_distributed', 'torchrun_command',
    'free_port', 'slurm_rendezvous'
]

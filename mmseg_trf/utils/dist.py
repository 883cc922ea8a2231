"""Starting torch.distributed on machines with and without GPUs."""
import socket
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
    variables; MMEngine's runner and ``mmengine.dist`` then find it
    initialised and use it.

    Args:
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    if launcher == 'none' or is_distributed():
        return
    if torch.cuda.is_available():
        init_dist(launcher, backend='nccl')
    elif launcher == 'pytorch':
        torch_dist.init_process_group(backend='gloo', init_method='env://')
    else:
        init_dist(launcher, backend='gloo')


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
    'init_distributed', 'finalize_distributed', 'torchrun_command', 'free_port'
]

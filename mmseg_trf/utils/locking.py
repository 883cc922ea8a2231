"""One process per work dir: an advisory lock that names its holder."""
import fcntl
import os
import os.path as osp
import sys
from typing import IO

LOCK_NAME = '.mmseg_trf.lock'


def hold_work_dir(folder: str) -> IO:
    """Take the work dir's lock for as long as the returned file stays
    open (the process's life, normally); the kernel releases it when the
    holder exits or is killed, so a stale lock is simply taken over.

    Args:
        folder (str): The work dir (created if missing).

    Returns:
        The open lock file (keep a reference to it).

    Raises:
        RuntimeError: Another live process holds the work dir; the message
            names its pid and command.
    """
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, LOCK_NAME)
    handle = open(path, 'a+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or 'unknown'
        handle.close()
        raise RuntimeError(f'work dir {folder} is in use by process {holder}'
                           '; two runs in one work dir would overwrite each '
                           'other\'s checkpoints and maps: wait for it, stop '
                           'it, or choose another --work-dir') from None
    handle.seek(0)
    handle.truncate()
    handle.write(f'{os.getpid()} ({" ".join(sys.argv)[:200]})\n')
    handle.flush()
    return handle


__all__ = ['hold_work_dir', 'LOCK_NAME']

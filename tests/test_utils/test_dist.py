"""torch.distributed variables from a Slurm task's environment."""
import os
import stat

from mmseg_trf.utils.dist import slurm_rendezvous

TASK = dict(
    SLURM_PROCID='3',
    SLURM_NTASKS='4',
    SLURM_LOCALID='1',
    SLURM_NODELIST='node[1-2]',
    SLURM_JOB_ID='123456')


def test_rank_and_world_come_from_the_task_and_master_from_the_node_list(
        tmp_path, monkeypatch):
    scontrol = tmp_path / 'scontrol'  # `scontrol show hostnames node[1-2]`
    scontrol.write_text('#!/bin/sh\nprintf "node1\\nnode2\\n"\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    assert slurm_rendezvous(TASK) == dict(
        RANK='3',
        WORLD_SIZE='4',
        LOCAL_RANK='1',
        MASTER_ADDR='node1',
        MASTER_PORT=str(20000 + 123456 % 20000))  # one port per job


def test_a_given_master_and_port_are_kept():
    env = dict(TASK, MASTER_ADDR='10.0.0.5', MASTER_PORT='1234')
    found = slurm_rendezvous(env)
    assert (found['MASTER_ADDR'], found['MASTER_PORT']) == ('10.0.0.5', '1234')

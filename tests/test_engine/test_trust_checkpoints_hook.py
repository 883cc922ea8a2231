"""MMSeg's own tools/train.py and tools/test.py (from the installed package)
on runner checkpoints, with the opt-in TrustCheckpointsHook: vanilla
training, weighted finetuning from its checkpoint, testing the result."""
import os.path as osp
import subprocess
import sys

import mmseg
import pytest

from ..conftest import ROOT
from .weighted_config import hook_cfg, write_config

TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')
TRUST = "dict(type='TrustCheckpointsHook')"


def mmseg_tool(script, *args):
    return subprocess.run(
        [sys.executable,
         osp.join(TOOLS, script), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600)


def ok(proc):
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def vanilla(tmp_path_factory, cityscapes_root):
    work = tmp_path_factory.mktemp('mmseg_tools')
    config = write_config(
        work / 'vanilla.py',
        cityscapes_root,
        weighted=False,
        hooks=f'[{TRUST}]')
    ok(mmseg_tool('train.py', config, '--work-dir', work / 'vanilla'))
    return work, work / 'vanilla' / 'iter_4.pth'


def test_mmseg_tools_finetune_weighted_from_a_runner_checkpoint_and_test(
        vanilla, cityscapes_root):
    work, checkpoint = vanilla
    hooks = hook_cfg(map_metric='leep', metrics=['leep'])
    config = write_config(
        work / 'weighted.py', cityscapes_root, hooks=f'[{TRUST}, ' + hooks[1:])
    ok(
        mmseg_tool('train.py', config, '--work-dir', work / 'weighted',
                   '--cfg-options', f'load_from={checkpoint}'))
    assert osp.isfile(work / 'weighted' / 'trf' / 'weight_map.png')
    tested = ok(
        mmseg_tool('test.py', config, work / 'weighted' / 'iter_4.pth',
                   '--work-dir', work / 'test'))
    assert 'mIoU' in tested.stdout + tested.stderr


def test_without_the_hook_torch_refuses_the_runner_checkpoint(
        vanilla, cityscapes_root, tmp_path):
    _, checkpoint = vanilla
    config = write_config(
        tmp_path / 'plain.py', cityscapes_root, weighted=False, hooks='[]')
    proc = mmseg_tool('test.py', config, checkpoint, '--work-dir', tmp_path)
    assert proc.returncode != 0
    assert 'Unsupported global' in proc.stdout + proc.stderr

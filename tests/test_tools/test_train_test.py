"""tools/train.py and tools/test.py on a user config, checkpoints included."""
import os.path as osp
import pickle
import re

import pytest
import torch
from mmengine.config import Config

from mmseg_trf.utils import checkpoint as trusted_loading
from ..conftest import run_tool
from .user_config import write_user_config


@pytest.fixture(scope='module')
def trained(tmp_path_factory, cityscapes_root):
    """A UNet+FCN trained 4 iterations by tools/train.py."""
    work = tmp_path_factory.mktemp('train')
    config = write_user_config(work / 'unet_fcn_user.py', cityscapes_root)
    run_tool('train.py', config, '--work-dir', work / 'run')
    return config, work / 'run'


def test_train_writes_runner_checkpoints(trained):
    _, run = trained
    assert osp.isfile(run / 'iter_4.pth')
    assert (run / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')


def test_runner_checkpoint_needs_more_than_weights_only(trained):
    """The problem being solved: torch >= 2.6 refuses the runner's files."""
    with pytest.raises(pickle.UnpicklingError):
        torch.load(trained[1] / 'iter_4.pth')


def test_test_tool_loads_runner_checkpoint_and_prints_miou(trained):
    config, run = trained
    proc = run_tool('test.py', config, run / 'iter_4.pth', '--work-dir',
                    run / 'test')
    assert re.search(r'mIoU: \d+\.\d+', proc.stdout + proc.stderr)


def test_test_tool_loads_plain_state_dict(trained, tmp_path):
    config, run = trained
    state = torch.load(run / 'iter_4.pth', weights_only=False)['state_dict']
    torch.save(state, tmp_path / 'weights.pth')
    proc = run_tool('test.py', config, tmp_path / 'weights.pth', '--work-dir',
                    tmp_path / 'test')
    assert re.search(r'mIoU: \d+\.\d+', proc.stdout + proc.stderr)


def test_resume_continues_from_latest_checkpoint(trained, tmp_path):
    config, run = trained
    proc = run_tool('train.py', config, '--work-dir', run, '--resume',
                    '--cfg-options', 'train_cfg.max_iters=6',
                    'train_cfg.val_interval=6')
    log = proc.stdout + proc.stderr
    assert 'resumed' in log.lower()
    assert re.search(r'Iter\(train\) \[5/6\]', log)
    assert not re.search(r'Iter\(train\) \[1/6\]', log)
    assert osp.isfile(run / 'iter_6.pth')


def test_resume_after_a_stop_inside_the_checkpoint_window(trained, tmp_path):
    """MMEngine deletes the kept checkpoint before writing the next: the
    marker is repaired to the last whole one, or the error says why."""
    config, run = trained
    copy = tmp_path / 'run'
    copy.mkdir()
    whole = torch.load(run / 'iter_4.pth', weights_only=False)
    torch.save(whole, copy / 'iter_2.pth')
    (copy / 'iter_6.pth').write_bytes(b'cut off')
    (copy / 'last_checkpoint').write_text(str(copy / 'iter_4.pth'))
    proc = run_tool('train.py', config, '--work-dir', copy, '--resume',
                    '--cfg-options', 'train_cfg.max_iters=6',
                    'train_cfg.val_interval=6')
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    assert osp.isfile(copy / 'iter_6.pth')
    torch.load(copy / 'iter_6.pth', weights_only=False)

    (copy / 'last_checkpoint').write_text(str(copy / 'iter_8.pth'))
    for left in copy.glob('iter_*.pth'):
        left.unlink()
    with pytest.raises(FileNotFoundError, match='no checkpoint is left'):
        trusted_loading.trust_resumed_checkpoint(
            Config(dict(work_dir=str(copy), resume=True)))


def test_load_from_runner_checkpoint(trained, tmp_path):
    config, run = trained
    proc = run_tool('train.py', config, '--work-dir', tmp_path / 'ft',
                    '--cfg-options', f'load_from={run / "iter_4.pth"}',
                    'train_cfg.max_iters=2', 'train_cfg.val_interval=2')
    assert 'Load checkpoint from' in proc.stdout + proc.stderr


def test_untrusted_runner_checkpoint_is_refused_with_advice(trained):
    path = str(trained[1] / 'iter_4.pth')
    assert not trusted_loading.is_trusted(path)
    with pytest.raises(pickle.UnpicklingError, match='trust_checkpoint'):
        trusted_loading.load_local_checkpoint(path)
    trusted_loading.trust_checkpoint(path)
    assert 'state_dict' in trusted_loading.load_local_checkpoint(path)


def test_missing_data_root_is_named(tmp_path):
    missing = tmp_path / 'no_such_cityscapes'
    config = write_user_config(tmp_path / 'cfg.py', str(missing))
    proc = run_tool(
        'train.py', config, '--work-dir', tmp_path / 'w', check=False)
    assert proc.returncode != 0
    assert str(missing) in proc.stderr
    assert 'FileNotFoundError' in proc.stderr


def test_missing_checkpoint_is_named(trained, tmp_path):
    config, _ = trained
    missing = tmp_path / 'nothing_here.pth'
    for args in (('test.py', config, missing),
                 ('train.py', config, '--cfg-options',
                  f'load_from={missing}')):
        proc = run_tool(*args, '--work-dir', tmp_path / 'w', check=False)
        assert proc.returncode != 0
        assert str(missing) in proc.stderr


@pytest.mark.parametrize(
    'content', [b'', b'<html>not found</html>\n',
                bytes(range(256)) * 4])
@pytest.mark.parametrize('trusted', [True, False])
def test_a_corrupt_checkpoint_is_named_as_not_a_checkpoint(
        tmp_path, content, trusted):
    path = tmp_path / 'weights.pth'
    path.write_bytes(content)
    if trusted:
        trusted_loading.trust_checkpoint(str(path))
    with pytest.raises(ValueError) as err:
        trusted_loading.load_local_checkpoint(str(path))
    message = str(err.value)
    assert 'is not a PyTorch checkpoint' in message and str(path) in message
    assert '\n' not in message and 'named by the user' not in message


def test_importing_the_package_leaves_mmengines_loader_alone():
    import subprocess
    import sys
    code = (
        'import mmseg_trf\n'
        'from mmengine.runner.checkpoint import CheckpointLoader\n'
        'from mmseg_trf.utils import checkpoint as c\n'
        "assert CheckpointLoader._schemes[''] is not "
        'c.load_local_checkpoint\n'
        "c.trust_checkpoint('x.pth')\n"
        "assert CheckpointLoader._schemes[''] is c.load_local_checkpoint\n")
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize('tool, option',
                         [('train.py', '--cfg-options'),
                          ('train.py', '--trf-options'),
                          ('test.py', '--cfg-options'),
                          ('score_sources.py', '--cfg-options')])
def test_an_option_that_is_not_key_value_is_named(tool, option, tmp_path):
    args = ['config.py', 'ckpt.pth'] if tool == 'test.py' else ['config.py']
    proc = run_tool(tool, *args, option, 'a=1', 'foo', check=False)
    assert proc.returncode == 2
    assert f"{option}: 'foo' is not KEY=VALUE" in proc.stderr


def test_a_copied_run_resumes_where_its_original_stopped(trained, tmp_path):
    """The selection study's longer truth: a finished run copied and
    resumed to a larger budget goes on from its last iteration and leaves
    the original run as it was."""
    from mmseg_trf.benchmark.runs import copy_run
    config, run = trained
    last = (run / 'last_checkpoint').read_text().strip()
    done = int(re.search(r'iter_(\d+)\.pth', last).group(1))
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    copy_run(str(run), str(tmp_path / 'longer'))
    proc = run_tool('train.py', config, '--work-dir', tmp_path / 'longer',
                    '--resume', '--cfg-options',
                    f'train_cfg.max_iters={done + 2}',
                    f'train_cfg.val_interval={done + 2}')
    log = proc.stdout + proc.stderr
    assert re.search(rf'Iter\(train\) \[{done + 1}/{done + 2}\]', log)
    assert not re.search(rf'Iter\(train\) \[1/{done + 2}\]', log)
    assert (tmp_path / 'longer' / f'iter_{done + 2}.pth').is_file()
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before

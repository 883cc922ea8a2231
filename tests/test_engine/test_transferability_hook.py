"""TransferabilityHook + TrfWeightedCrossEntropyLoss through tools/train.py."""
import json
import os.path as osp
import re
import shutil

import numpy as np
import pytest

from ..conftest import run_tool
from .weighted_config import hook_cfg, write_config


def first_losses(log):
    return [
        float(v) for v in re.findall(
            r'Iter\(train\) \[ ?1/\d+\].*?decode\.loss_\w+: ([\d.]+)', log)
    ]


@pytest.fixture(scope='module')
def weighted_run(tmp_path_factory, cityscapes_root):
    work = tmp_path_factory.mktemp('weighted')
    config = write_config(work / 'weighted.py', cityscapes_root)
    proc = run_tool('train.py', config, '--work-dir', work / 'run')
    return config, work / 'run', proc.stdout + proc.stderr


def test_hook_writes_scores_map_and_figure(weighted_run):
    _, run, log = weighted_run
    trf = run / 'trf'
    for name in ('transferability.npy', 'weight_map.npy', 'weight_map.json',
                 'weight_map.png', 'scores.json'):
        assert osp.isfile(trf / name), name
    weights = np.load(trf / 'weight_map.npy')
    assert weights.shape == (16, 32)  # 64 x 128 labels, 4 x 4 patches
    assert weights.min() >= 1 and weights.max() <= np.e + 1e-6
    meta = json.load(open(trf / 'weight_map.json'))
    for key in ('metric', 'patch', 'grid_shape', 'label_shape', 'layer',
                'checkpoint', 'target', 'source', 'mmseg_trf', 'settings',
                'extract_seconds', 'score_seconds'):
        assert key in meta
    scores = json.load(open(trf / 'scores.json'))['scores']
    assert set(scores) == {'otce', 'leep', 'logme'}
    assert all(s['error'] is None for s in scores.values())
    assert 'computed the otce weight map' in log
    assert 'TransferabilityHook: otce =' in log


def test_weighted_loss_differs_from_vanilla(weighted_run, tmp_path,
                                            cityscapes_root):
    _, _, log = weighted_run
    vanilla = write_config(
        tmp_path / 'vanilla.py', cityscapes_root, weighted=False)
    proc = run_tool('train.py', vanilla, '--work-dir', tmp_path / 'run')
    weighted_loss, = first_losses(log)
    vanilla_loss, = first_losses(proc.stdout + proc.stderr)
    # same seed, same batch: weights in [1, e] make the loss larger
    assert vanilla_loss < weighted_loss <= np.e * vanilla_loss


def test_resume_reuses_the_map(weighted_run):
    config, run, _ = weighted_run
    before = (run / 'trf' / 'weight_map.npy').stat().st_mtime_ns
    proc = run_tool('train.py', config, '--work-dir', run, '--resume',
                    '--cfg-options', 'train_cfg.max_iters=6',
                    'train_cfg.val_interval=6')
    log = proc.stdout + proc.stderr
    assert 'reused the otce weight map' in log
    assert (run / 'trf' / 'weight_map.npy').stat().st_mtime_ns == before


def test_changed_settings_recompute(weighted_run, tmp_path, cityscapes_root):
    _, run, _ = weighted_run
    config = write_config(
        tmp_path / 'leep.py',
        cityscapes_root,
        hooks=hook_cfg(map_metric='leep', patch_size=8))
    proc = run_tool('train.py', config, '--work-dir', tmp_path / 'run')
    assert 'computed the leep weight map' in proc.stdout + proc.stderr
    assert np.load(tmp_path / 'run' / 'trf' / 'weight_map.npy').shape == (8,
                                                                          16)


def test_resume_refuses_a_corrupt_map(weighted_run, tmp_path):
    config, run, _ = weighted_run
    copy = tmp_path / 'copy'
    shutil.copytree(run, copy)
    np.save(copy / 'trf' / 'weight_map.npy', np.full((16, 32), 1e6,
                                                     np.float32))
    before = (copy / 'trf' / 'weight_map.npy').read_bytes()
    proc = run_tool(
        'train.py',
        config,
        '--work-dir',
        copy,
        '--resume',
        '--cfg-options',
        'train_cfg.max_iters=6',
        check=False)
    assert proc.returncode != 0
    assert 'not eq. 4' in proc.stderr
    # the source map is never overwritten by one of the finetuned model
    assert (copy / 'trf' / 'weight_map.npy').read_bytes() == before


def test_otce_map_without_source_fails_at_construction():
    from mmseg_trf.engine import TransferabilityHook
    with pytest.raises(ValueError, match='source_dataset'):
        TransferabilityHook(map_metric='otce')
    with pytest.raises(ValueError, match='patch_size'):
        TransferabilityHook(map_metric='leep', patch_size=0)
    with pytest.raises(ValueError, match='control'):
        TransferabilityHook(map_metric='leep', control='reversed')
    with pytest.raises(ValueError, match='strength'):
        TransferabilityHook(map_metric='leep', strength=-1)
    with pytest.raises(ValueError, match='rule'):
        TransferabilityHook(map_metric='leep', weight_rule='softmax')


@pytest.mark.parametrize('setting, value', [('interval', -1), ('interval', 0),
                                            ('strength', 'abc'),
                                            ('strength', float('nan')),
                                            ('workers', 0),
                                            ('num_pixels', '100'),
                                            ('batch_size', 1.5),
                                            ('min_pixels', True)])
def test_bad_numbers_are_named_at_construction(setting, value):
    from mmseg_trf.engine import TransferabilityHook
    with pytest.raises(ValueError, match=f'{setting} must be .* got'):
        TransferabilityHook(map_metric='leep', **{setting: value})


def test_pipeline_without_coordinates_is_an_error(tmp_path, cityscapes_root):
    config = write_config(tmp_path / 'cfg.py', cityscapes_root)
    text = open(config).read().replace("dict(type='AddPixelCoordinates'),",
                                       '').replace("'PackTrfInputs'",
                                                   "'PackSegInputs'")
    open(config, 'w').write(text)
    proc = run_tool(
        'train.py', config, '--work-dir', tmp_path / 'run', check=False)
    assert proc.returncode != 0
    assert 'AddPixelCoordinates' in proc.stderr


def test_two_processes_write_the_one_process_map(weighted_run, tmp_path,
                                                 cityscapes_root):
    config = write_config(tmp_path / 'cfg.py', cityscapes_root)
    proc = run_tool(
        'train.py',
        config,
        '--work-dir',
        tmp_path / 'run',
        nproc=2,
        timeout=900)
    log = proc.stdout + proc.stderr
    assert log.count('computed the otce weight map') == 1
    assert 'Iter(train) [4/4]' in log
    # images and map bands split over two ranks; the same seeded model.
    # Each rank runs its own threads, so features may differ in the last
    # bits, and a patch whose optimal coupling is not unique (tied pixels of
    # the tiny random model) may then land on another optimal vertex with
    # another OTCE: on an AVX-512 Xeon 1 of 512 patches, by 0.019.
    two = np.load(tmp_path / 'run' / 'trf' / 'transferability.npy')
    one = np.load(weighted_run[1] / 'trf' / 'transferability.npy')
    assert np.isclose(two, one, rtol=0, atol=1e-10).mean() >= 0.99
    np.testing.assert_allclose(two, one, rtol=0, atol=0.05)

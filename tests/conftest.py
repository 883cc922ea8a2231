"""Shared fixtures: small generated datasets in real layouts."""
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def cityscapes_root(tmp_path_factory):
    """A tiny Cityscapes-layout dataset: city aachen, 6 train + 3 val."""
    from mmseg_trf.synthetic import SceneStyle, write_cityscapes
    root = str(tmp_path_factory.mktemp('cityscapes'))
    write_cityscapes(root, 'train', 'aachen', 6, SceneStyle(), (64, 128), 0)
    write_cityscapes(root, 'val', 'aachen', 3, SceneStyle(), (64, 128), 1)
    return root


def load_tool(script):
    """``tools/<script>`` as a module, so that its argument checks run in
    this process, before any model is built."""
    import importlib.util
    name = osp.splitext(script)[0] + '_tool'
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(script, *args, check=True, timeout=600, nproc=1):
    """Run ``tools/<script>`` in a subprocess (on ``nproc`` processes with
    torchrun and ``--launcher pytorch`` when ``nproc > 1``); return the
    completed process, failing with its output tail unless ``check`` is
    off."""
    tool = osp.join(ROOT, 'tools', script)
    args = [*map(str, args)]
    if nproc > 1:
        from mmseg_trf.utils.dist import torchrun_command
        cmd = torchrun_command(tool, args, nproc)
    else:
        cmd = [sys.executable, tool, *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    if check and proc.returncode:
        raise AssertionError(f'{script} failed:\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


@pytest.fixture(scope='session')
def layout_roots(tmp_path_factory, cityscapes_root):
    """Tiny generated datasets in the BDD100K, GTA5 (converted) and ADE20K
    layouts, plus the Cityscapes fixture."""
    from mmseg_trf.synthetic import (SceneStyle, write_ade20k, write_bdd100k,
                                     write_gta5)
    root = tmp_path_factory.mktemp('layouts')
    style = SceneStyle(palette_shift=0.3)
    for split, seed in (('train', 0), ('val', 1)):
        write_bdd100k(str(root / 'bdd100k'), split, 3, style, (64, 128), seed)
        write_ade20k(str(root / 'ade'), split, 3, style, (64, 128), seed)
    write_gta5(str(root / 'gta5'), 4, style, (64, 128), 0)
    run_tool('convert_gta5.py', root / 'gta5')
    return dict(
        cityscapes=cityscapes_root,
        bdd100k=str(root / 'bdd100k'),
        gta5=str(root / 'gta5'),
        ade20k=str(root / 'ade'))

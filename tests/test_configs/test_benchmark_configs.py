"""The benchmark's configs: generated, parseable, buildable, trainable."""
import glob
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_trf  # noqa: F401
from ..conftest import ROOT, run_tool
from .tiny import TINY, tiny_model_cfg, write_tiny_train_config

ALL_CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))


def load_generator():
    spec = importlib.util.spec_from_file_location(
        'generate_configs', osp.join(ROOT, 'tools', 'generate_configs.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_configs_are_up_to_date():
    generator = load_generator()
    files = generator.all_configs()
    assert len(files) == 18 + 6 * 5  # sources; finetuning per arch and city
    for relative, text in files.items():
        with open(osp.join(ROOT, relative)) as f:
            assert f.read() == generator.formatted(text), relative


@pytest.mark.parametrize(
    'path', ALL_CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_parses(path):
    cfg = Config.fromfile(path)
    if 'model' in cfg and 'type' in cfg.model:
        assert cfg.model.decode_head.num_classes in (19, 150)
        if '/sources/' in path:  # one build per architecture x classes
            init_default_scope('mmseg')
            cfg.model.pretrained = None
            model = MODELS.build(cfg.model)
            assert model.decode_head.conv_seg.out_channels == \
                cfg.model.decode_head.num_classes
    for loader in ('train_dataloader', 'val_dataloader'):
        if loader in cfg:
            assert cfg[loader].dataset.type


@pytest.mark.parametrize('base, params', [('fcn8s_vgg16', 134.3),
                                          ('segnet_vgg16', 29.5),
                                          ('frrn_a', 17.7), ('frrn_b', 24.8)])
def test_full_size_architectures_match_their_papers(base, params):
    """Parameter counts (millions) of the papers: FCN-8s 134 (ours adds BN
    and its 1x1 score projections), SegNet 29.5, FRRN-A 17.7, FRRN-B 24.8.
    """
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(ROOT, f'configs/_base_/models/{base}.py'))
    for part in (cfg.model.backbone, cfg.model.decode_head):
        part.norm_cfg = dict(type='BN')
    model = MODELS.build(cfg.model)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert count == pytest.approx(params, rel=0.015)


@pytest.mark.parametrize('arch', list(TINY))
def test_forward_and_backward(arch):
    init_default_scope('mmseg')
    model = MODELS.build(tiny_model_cfg(arch))
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(2):
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(64, 96), ori_shape=(64, 96), pad_shape=(64, 96)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, 64, 96)))
        samples.append(sample)
    losses = model.loss(torch.randn(2, 3, 64, 96), samples)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is not None
               for p in model.decode_head.conv_seg.parameters())
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 64, 96), mode='tensor')
    assert logits.shape[1] == 19


@pytest.mark.parametrize('arch', list(TINY))
def test_trains_through_tools_train(arch, tmp_path, cityscapes_root):
    config = write_tiny_train_config(tmp_path / f'{arch}.py', arch,
                                     cityscapes_root)
    proc = run_tool('train.py', config, '--work-dir', tmp_path / 'run')
    assert 'Iter(train) [2/2]' in proc.stdout + proc.stderr
    assert osp.isfile(tmp_path / 'run' / 'iter_2.pth')

"""A workspace of tiny source models, dataset configs and a sources file."""
import os.path as osp

import torch
import yaml
from mmengine.config import Config

from mmseg_trf.apis import load_segmentor
from . import tiny_models
from .conftest import city_dataset


def write_dataset_config(path, root, split):
    with open(path, 'w') as f:
        f.write(f'trf_dataset = {city_dataset(root, split)!r}\n')
    return str(path)


def write_source(folder, name, model_cfg, seed):
    config = osp.join(folder, f'{name}.py')
    with open(config, 'w') as f:
        f.write(tiny_models.model_config_text(model_cfg))
    torch.manual_seed(seed)
    model = load_segmentor(
        Config(dict(model=model_cfg, default_scope='mmseg')))
    checkpoint = osp.join(folder, f'{name}.pth')
    torch.save(model.state_dict(), checkpoint)
    return config, checkpoint


def make_workspace(folder, root, mious=(0.3, 0.5, 0.4)):
    """Three sources (two FCNs, a PSPNet) with OTCE source data and truth."""
    target = write_dataset_config(osp.join(folder, 'target.py'), root, 'train')
    source_data = write_dataset_config(
        osp.join(folder, 'source_data.py'), root, 'val')
    sources = []
    for (name, cfg, seed), miou in zip([('fcn_a', tiny_models.fcn(), 1),
                                        ('fcn_b', tiny_models.fcn(), 2),
                                        ('psp', tiny_models.psp(), 3)], mious):
        config, checkpoint = write_source(folder, name, cfg, seed)
        sources.append(
            dict(
                name=name,
                config=config,
                checkpoint=checkpoint,
                dataset=source_data,
                miou=miou))
    sources_file = osp.join(folder, 'sources.yaml')
    with open(sources_file, 'w') as f:
        yaml.safe_dump(sources, f)
    return dict(
        target=target,
        source_data=source_data,
        sources=sources,
        sources_file=sources_file)

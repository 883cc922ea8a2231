import pytest
from mmengine.config import Config

from . import tiny_models


def test_pipeline(scale=(128, 64)):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]


def city_dataset(root, split='train', scale=(128, 64)):
    return dict(
        type='CityscapesDataset',
        data_root=root,
        data_prefix=dict(
            img_path=f'leftImg8bit/{split}/aachen',
            seg_map_path=f'gtFine/{split}/aachen'),
        pipeline=test_pipeline(scale))


@pytest.fixture
def model_cfg():

    def make(head):
        return Config(
            dict(model=tiny_models.HEADS[head](), default_scope='mmseg'))

    return make

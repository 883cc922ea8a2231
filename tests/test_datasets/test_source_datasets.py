"""Source datasets in their real layouts: GTA5 mapping and converter,
BDD100K and ADE20K through MMSeg's datasets."""
import glob

import numpy as np
from cityscapesscripts.helpers.labels import labels as cityscapes_labels
from PIL import Image

from mmseg_trf.apis import dataset_config
from mmseg_trf.datasets import gta5_to_train_ids
from mmseg_trf.pixels import build_dataset, read_label_maps


def test_gta5_mapping_for_every_id():
    table = gta5_to_train_ids()
    by_id = {label.id: label for label in cityscapes_labels if label.id >= 0}
    for raw in range(256):
        label = by_id.get(raw)
        expected = (
            label.trainId
            if label is not None and 0 <= label.trainId < 255 else 255)
        assert table[raw] == expected, raw
    assert sorted(set(table) - {255}) == list(range(19))


def test_converter_writes_train_ids(layout_roots):
    from mmseg_trf.synthetic import cityscapes_id_of_train_id
    raw = sorted(
        p for p in glob.glob(f'{layout_roots["gta5"]}/labels/*.png')
        if not p.endswith('_labelTrainIds.png'))
    assert len(raw) == 4
    ids_of = cityscapes_id_of_train_id()
    for path in raw:
        ids = np.asarray(Image.open(path))
        train = np.asarray(Image.open(path[:-4] + '_labelTrainIds.png'))
        assert set(np.unique(train)) <= set(range(19)) | {255}
        np.testing.assert_array_equal(ids_of[train], ids)


def dataset_with_root(name, root):
    cfg = dataset_config(f'configs/_base_/datasets/{name}.py')
    cfg['data_root'] = root
    return build_dataset(cfg)


def test_source_datasets_read_generated_layouts(layout_roots):
    for name, classes in (('gta5', 19), ('bdd100k', 19), ('ade20k', 150)):
        dataset = dataset_with_root(name, layout_roots[name])
        assert len(dataset) >= 3
        assert len(dataset.metainfo['classes']) == classes
        maps = read_label_maps(dataset)
        values = set(np.unique(np.concatenate([m.ravel() for m in maps])))
        assert values <= set(range(classes)) | {255}
        assert len(values - {255}) >= 4
        sample = dataset[0]['data_samples']
        assert sample.ori_shape == maps[0].shape


def test_cityscapes_city_split(layout_roots):
    cfg = dataset_config('configs/_base_/datasets/cityscapes_aachen.py')
    cfg.update(data_root=layout_roots['cityscapes'], num_labelled=4)
    labelled = build_dataset(cfg)
    heldout = build_dataset(dict(cfg, subset='heldout'))
    everything = build_dataset(dict(cfg, subset='all'))
    names = [d['img_path'] for d in everything.data_list]
    assert names == sorted(names)
    assert [d['img_path'] for d in labelled.data_list] == names[:4]
    assert [d['img_path'] for d in heldout.data_list] == names[4:]

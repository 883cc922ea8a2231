"""Pixel features equal a direct forward pass read at the label pixels."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate

from mmseg_trf.apis import load_segmentor
from mmseg_trf.pixels import (build_dataset, classifier_head, extract_pool,
                              read_label_maps)
from mmseg_trf.sampling import SamplingSettings, draw_pool
from ..test_apis.conftest import city_dataset


def direct_maps(model, sample):
    """conv_seg input/output of a plain forward, captured by our own hook."""
    captured = {}
    head = classifier_head(model)
    handle = head.conv_seg.register_forward_hook(
        lambda m, i, o: captured.update(features=i[0], logits=o))
    data = model.data_preprocessor(pseudo_collate([sample]), False)
    with torch.no_grad():
        model(data['inputs'], data['data_samples'], mode='tensor')
    handle.remove()
    return captured, head.align_corners


@pytest.mark.parametrize(
    'head', ['fcn', 'psp', 'deeplabv3plus', 'segformer', 'ocr', 'unet_fcn'])
@pytest.mark.parametrize('scale', [(128, 64), (64, 32)])
def test_features_equal_upsampled_conv_seg_maps(head, scale, model_cfg,
                                                cityscapes_root):
    check_against_direct_forward(
        load_segmentor(model_cfg(head)), cityscapes_root, scale)


def test_align_corners_heads(model_cfg, cityscapes_root):
    model = load_segmentor(model_cfg('fcn'))
    model.decode_head.align_corners = True
    check_against_direct_forward(model, cityscapes_root, (128, 64))


def check_against_direct_forward(model, root, scale):
    """Label pixel (r, c) gets the conv_seg maps bilinearly resized to the
    label map's size (one resize when the image is resized by a factor,
    which is the same map as resizing to the input and then to the label)."""
    dataset = build_dataset(city_dataset(root, scale=scale))
    label_maps = read_label_maps(dataset)
    pool = draw_pool(
        label_maps, 255,
        SamplingSettings(pool_size=600, num_pixels=100, repetitions=2))
    got = extract_pool(model, dataset, pool)
    for index in np.unique(pool.image):
        maps, align = direct_maps(model, dataset[index])
        key, rows, cols = pool.positions_of(index)
        for name, layer in (('features', 'pre_logits'), ('logits', 'logits')):
            full = F.interpolate(
                maps[name],
                size=label_maps[index].shape,
                mode='bilinear',
                align_corners=align)[0]
            expected = full[:, rows, cols].T.numpy()
            # grid_sample and interpolate round their float32 bilinear
            # weights differently (seen: 1e-5 on features of order 1).
            np.testing.assert_allclose(
                got[layer][key], expected, rtol=1e-4, atol=1e-4)


def test_logits_are_the_model_prediction(model_cfg, cityscapes_root):
    """At full resolution the logits' argmax is MMSeg's own prediction."""
    model = load_segmentor(model_cfg('fcn'))
    dataset = build_dataset(city_dataset(cityscapes_root))
    label_maps = read_label_maps(dataset, [0])
    pool = draw_pool(label_maps, 255, SamplingSettings(sampler='full'))
    got = extract_pool(model, dataset, pool)
    data = model.data_preprocessor(pseudo_collate([dataset[0]]), False)
    with torch.no_grad():
        pred = model.predict(data['inputs'], data['data_samples'])[0]
    expected = pred.pred_sem_seg.data[0].numpy()[pool.row, pool.col]
    assert (got['logits'].argmax(1) == expected).mean() > 0.999


def test_head_without_classifier_is_refused(model_cfg):
    model = load_segmentor(model_cfg('fcn'))
    del model.decode_head.conv_seg
    with pytest.raises(ValueError, match='no conv_seg'):
        classifier_head(model)


@pytest.mark.parametrize('kind', ['rgb-equal', 'rgb-colours', 'id-256'])
def test_label_files_that_would_read_wrong_are_refused_or_reduced(
        kind, tmp_path):
    """Every reader of labels (sampling, maps, CC-FV) goes through
    ``read_label_maps``: an RGB copy of a grey map reads as the grey map;
    colours and ids MMSeg's 8-bit maps cannot hold are refused by path."""
    import cv2

    from mmseg_trf.synthetic import SceneStyle, write_cityscapes
    root = str(tmp_path)
    write_cityscapes(root, 'train', 'aachen', 2, SceneStyle(), (32, 64), 0)
    dataset = build_dataset(city_dataset(root, scale=(64, 32)))
    before = read_label_maps(dataset)
    path = dataset.get_data_info(1)['seg_map_path']
    grey = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if kind == 'rgb-equal':
        cv2.imwrite(path, np.dstack([grey] * 3))
        after = read_label_maps(dataset)
        assert all(np.array_equal(a, b) for a, b in zip(before, after))
        return
    if kind == 'rgb-colours':
        cv2.imwrite(path, np.dstack([grey, grey, 255 - grey]))
        message = 'channels that differ'
    else:
        wide = grey.astype(np.uint16)
        wide[0, 0] = 256
        cv2.imwrite(path, wide)
        message = 'label id 256 does not survive'
    with pytest.raises(ValueError, match=message) as err:
        read_label_maps(dataset)
    assert path in str(err.value)


@pytest.mark.parametrize('damage', [b'', b'\x89PNG\r\n\x1a\n\x00\x00'])
def test_an_unreadable_image_is_named(damage, tmp_path, model_cfg):
    from mmseg_trf.synthetic import SceneStyle, write_cityscapes
    root = str(tmp_path)
    write_cityscapes(root, 'train', 'aachen', 2, SceneStyle(), (32, 64), 0)
    dataset = build_dataset(city_dataset(root, scale=(64, 32)))
    path = dataset.get_data_info(1)['img_path']
    with open(path, 'wb') as f:
        f.write(damage)
    label_maps = read_label_maps(dataset)
    pool = draw_pool(
        label_maps, 255,
        SamplingSettings(pool_size=20, num_pixels=5, repetitions=2))
    with pytest.raises(ValueError, match='could not be loaded') as err:
        extract_pool(load_segmentor(model_cfg('fcn')), dataset, pool)
    assert f'image 1 ({path}' in str(err.value)


@pytest.mark.parametrize('shape', [(1, 1), (1, 5), (4, 1)])
def test_label_maps_of_height_or_width_one_stay_two_dimensional(
        shape, tmp_path):
    """MMSeg squeezes such maps; the sampler needs (H, W)."""
    from PIL import Image
    for folder in ('leftImg8bit/train/aachen', 'gtFine/train/aachen'):
        (tmp_path / folder).mkdir(parents=True)
    labels = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    Image.fromarray(np.zeros(shape + (3, ), np.uint8)).save(
        tmp_path / 'leftImg8bit/train/aachen/a_0_0_leftImg8bit.png')
    Image.fromarray(labels).save(
        tmp_path / 'gtFine/train/aachen/a_0_0_gtFine_labelTrainIds.png')
    dataset = build_dataset(city_dataset(str(tmp_path)))
    got, = read_label_maps(dataset)
    np.testing.assert_array_equal(got, labels)

"""Zoo checkpoints: downloaded into torch's hub cache with a timeout, or a
per-source error that names the URL."""
import copy
import functools
import http.server
import threading

import pytest
import torch

from mmseg_trf.apis.model import fetch_checkpoint


@pytest.fixture
def hub(tmp_path):
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    yield tmp_path / 'hub'
    torch.hub.set_dir(previous)


@pytest.fixture
def server(tmp_path):
    (tmp_path / 'www').mkdir()
    torch.save({'w': torch.ones(3)}, tmp_path / 'www' / 'model.pth')
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / 'www'))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_port}'
    httpd.shutdown()


def test_a_zoo_checkpoint_is_downloaded_once_into_the_hub_cache(hub, server):
    path = fetch_checkpoint(f'{server}/model.pth')
    assert path == str(hub / 'checkpoints' / 'model.pth')
    assert torch.load(path)['w'].sum() == 3
    assert fetch_checkpoint(f'{server}/model.pth') == path  # cached


@pytest.mark.parametrize('address', ['/missing.pth', 'closed'])
def test_an_unreachable_checkpoint_names_its_url(hub, server, address):
    url = (f'{server}{address}'
           if address.startswith('/') else 'http://127.0.0.1:9/model.pth')
    with pytest.raises(
            ConnectionError, match='cannot download checkpoint '
            f'{url}'):
        fetch_checkpoint(url, timeout=2)
    assert not (hub / 'checkpoints' / 'model.pth').exists()


@pytest.fixture(scope='module')
def tiny_fcn(tmp_path_factory):
    """A tiny FCN config file and its freshly built model's weights."""
    from mmengine.config import Config

    from mmseg_trf.apis import load_segmentor
    from . import tiny_models
    folder = tmp_path_factory.mktemp('tiny')
    config = folder / 'fcn.py'
    Config(dict(model=tiny_models.fcn(), default_scope='mmseg')).dump(config)
    model = load_segmentor(str(config))
    return str(config), model


@pytest.mark.parametrize(
    'wrap',
    ['state_dict', 'model', 'model_state_dict', 'net', 'plain', 'module'])
def test_common_checkpoint_wrappers_load(tiny_fcn, tmp_path, wrap):
    from mmseg_trf.apis import load_segmentor
    config, model = tiny_fcn
    weights = {k: v + 1 for k, v in model.state_dict().items()}
    if wrap == 'module':
        saved = copy.deepcopy(model)
        for tensor in saved.state_dict().values():
            tensor.data.add_(1) if tensor.is_floating_point() else None
    else:
        saved = weights if wrap == 'plain' else {wrap: weights, 'epoch': 3}
    torch.save(saved, tmp_path / 'ckpt.pth')
    loaded = load_segmentor(config, str(tmp_path / 'ckpt.pth'))
    for key, tensor in loaded.state_dict().items():
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, weights[key])


@pytest.mark.parametrize('content, message', [
    ({
        'foo': 1,
        'bar': 'x'
    }, r"top-level keys are \['bar', 'foo'\]"),
    ([1, 2], 'holds a list, not weights'),
])
def test_a_checkpoint_without_weights_names_what_it_holds(
        tiny_fcn, tmp_path, content, message):
    from mmseg_trf.apis import load_segmentor
    torch.save(content, tmp_path / 'ckpt.pth')
    with pytest.raises(ValueError, match=message):
        load_segmentor(tiny_fcn[0], str(tmp_path / 'ckpt.pth'))


def test_a_checkpoint_directory_is_named(tiny_fcn, tmp_path):
    from mmseg_trf.apis import load_segmentor
    with pytest.raises(FileNotFoundError, match='is a directory'):
        load_segmentor(tiny_fcn[0], str(tmp_path))

"""Zoo checkpoints: downloaded into torch's hub cache with a timeout, or a
per-source error that names the URL."""
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

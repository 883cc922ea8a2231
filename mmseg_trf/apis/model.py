"""Building segmentors from configs and checkpoints, and tapping the
classifier of their decode head."""
import os
import os.path as osp
import socket
import urllib.parse
import urllib.request
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from ..utils import check_checkpoint_path, trust_checkpoint


def load_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """A Config from a path, an ``mmseg::`` name or a Config.

    Args:
        config (str | Config): The model config.
        cfg_options (dict, optional): Overrides merged into it.

    Returns:
        Config: A copy with the overrides applied.
    """
    if isinstance(config, Config):
        cfg = config.copy()
    elif '::' in config:
        from mmengine.hub import get_config
        cfg = get_config(config)
    else:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config {config!r} does not exist')
        cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


#: Seconds a model-zoo download may wait to connect or for data.
DOWNLOAD_TIMEOUT = 30


def fetch_checkpoint(url: str, timeout: float = DOWNLOAD_TIMEOUT) -> str:
    """A checkpoint URL as a local file in torch's hub cache (where
    MMEngine would put it), downloaded with a progress log and a timeout.

    Args:
        url (str): ``http(s)://`` address.
        timeout (float): Seconds to wait for the connection or for data.

    Returns:
        str: The local path.

    Raises:
        ConnectionError: The URL cannot be reached or the download broke
            off (named in the message).
    """
    folder = osp.join(torch.hub.get_dir(), 'checkpoints')
    path = osp.join(folder, osp.basename(urllib.parse.urlparse(url).path))
    if osp.isfile(path):
        return path
    os.makedirs(folder, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        request = urllib.request.Request(url, method='HEAD')
        with urllib.request.urlopen(request, timeout=timeout) as response:
            size = int(response.headers.get('Content-Length') or 0)
        print_log(
            f'downloading {url} ({size / 2**20:.0f} MB) to {path}',
            logger='current')
        torch.hub.download_url_to_file(url, path, progress=False)
    except OSError as err:  # URLError, timeouts and resets are OSErrors
        raise ConnectionError(f'cannot download checkpoint {url}: '
                              f'{err}') from None
    finally:
        socket.setdefaulttimeout(previous)
    return path


def load_segmentor(config: Union[str, Config],
                   checkpoint: Optional[str] = None,
                   device: str = 'cpu',
                   cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a segmentor in eval mode and load its weights.

    Unlike ``mmseg.apis.init_model`` this accepts plain state dicts as well
    as runner checkpoints (see :mod:`mmseg_trf.utils.checkpoint`), never
    downloads backbone weights the checkpoint replaces, and turns SyncBN into
    BN so the model runs on one CPU process.

    Args:
        config (str | Config): Model config (path or ``mmseg::`` name).
        checkpoint (str, optional): Local path or URL.
        device (str): Where to put the model.
        cfg_options (dict, optional): Config overrides.

    Returns:
        nn.Module: The segmentor, ``eval()``-ed, with ``cfg`` and
        ``dataset_meta`` attributes.
    """
    cfg = load_config(config, cfg_options)
    check_checkpoint_path(checkpoint)
    cfg.model.pretrained = None
    cfg.model.train_cfg = None
    if 'backbone' in cfg.model:
        cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    model.dataset_meta = None
    if checkpoint:
        # a named local file is trusted; a download keeps weights_only
        local = (
            fetch_checkpoint(checkpoint)
            if '://' in checkpoint else trust_checkpoint(checkpoint))
        loaded = CheckpointLoader.load_checkpoint(local, map_location='cpu')
        load_weights(model, loaded, checkpoint)
        if isinstance(loaded, dict):
            model.dataset_meta = loaded.get('meta', {}).get('dataset_meta')
    model.cfg = cfg
    model = revert_sync_batchnorm(model)
    return model.to(device).eval()


def load_weights(model: nn.Module, checkpoint: dict, name: str) -> None:
    """Load a checkpoint's weights, refusing any that do not fit the model.

    MMEngine's loader skips tensors of the wrong shape with a warning, which
    would leave, e.g., a classifier for another number of classes randomly
    initialised and every score meaningless; here that is an error, as is a
    model tensor the checkpoint lacks (auxiliary heads excepted: they do not
    take part in inference).

    Args:
        model (nn.Module): The built segmentor.
        checkpoint (dict): A runner checkpoint or a plain state dict.
        name (str): The checkpoint's path, for messages.
    """
    state = state_dict_of(checkpoint, name)
    state = {
        k[len('module.'):] if k.startswith('module.') else k: v
        for k, v in state.items()
    }
    own = model.state_dict()
    mismatched = [
        f'{k}: checkpoint {tuple(v.shape)} vs model '
        f'{tuple(own[k].shape)}' for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if mismatched:
        raise ValueError(f'checkpoint {name} does not fit the config '
                         '(a class-count mismatch if conv_seg is listed): ' +
                         '; '.join(mismatched[:4]))
    missing = [
        k for k in own if k not in state and not k.startswith('auxiliary_head')
        and not k.endswith('num_batches_tracked')
    ]
    if missing:
        raise ValueError(f'checkpoint {name} lacks {len(missing)} model '
                         f'tensors, e.g. {missing[:3]}; its tensors are '
                         f'named e.g. {list(state)[:3]}')
    model.load_state_dict(state, strict=False)


#: Keys under which checkpoints of common training code keep the weights.
STATE_DICT_KEYS = ('state_dict', 'model', 'model_state_dict', 'net', 'network')


def state_dict_of(checkpoint, name: str) -> dict:
    """The weights of a loaded checkpoint: a runner checkpoint's
    ``state_dict``, the same under a common wrapper key (``model``,
    ``model_state_dict``, ``net``, ``network``), a pickled whole module's
    ``state_dict()`` or a plain state dict; anything else is a
    ``ValueError`` naming what was found.

    Args:
        checkpoint: What ``torch.load`` returned.
        name (str): The checkpoint's path, for messages.

    Returns:
        dict: Tensor name -> tensor.
    """
    if isinstance(checkpoint, nn.Module):
        return checkpoint.state_dict()
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint {name} holds a '
                         f'{type(checkpoint).__name__}, not weights')
    for key in STATE_DICT_KEYS:
        inner = checkpoint.get(key)
        if isinstance(inner, nn.Module):
            return inner.state_dict()
        if isinstance(inner, dict) and inner and all(
                torch.is_tensor(v) for v in inner.values()):
            return inner
    if checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        return checkpoint
    raise ValueError(f'checkpoint {name} holds no state dict: its top-level '
                     f'keys are {sorted(map(str, checkpoint))[:10]}; '
                     f'expected tensors or one of {list(STATE_DICT_KEYS)}')


__all__ = ['load_config', 'load_segmentor', 'load_weights', 'fetch_checkpoint']

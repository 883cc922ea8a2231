"""The benchmark's architectures at CPU widths, as config overrides of the
package's model base configs (``configs/_base_/models``) and MMSeg's."""
import copy
import os.path as osp
from typing import Dict, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BN = dict(type='BN', requires_grad=True)


def _narrow(**parts) -> Dict:
    """Model overrides with BN (not SyncBN) on every part given."""
    return {k: dict(v, norm_cfg=BN) for k, v in parts.items()}


#: model base config (package-relative or ``mmseg::``) and overrides
TINY_MODELS: Dict[str, Tuple[str, Dict]] = {
    'fcn8s': ('configs/_base_/models/fcn8s_vgg16.py',
              _narrow(
                  backbone=dict(base_channels=8, fc_channels=32),
                  decode_head=dict(in_channels=[32, 64, 32], channels=16))),
    'unet': ('mmseg::_base_/models/fcn_unet_s5-d16.py',
             dict(
                 _narrow(
                     backbone=dict(base_channels=8),
                     decode_head=dict(in_channels=8, channels=8),
                     auxiliary_head=dict(in_channels=16, channels=8)),
                 test_cfg=dict(mode='whole'))),
    'segnet': ('configs/_base_/models/segnet_vgg16.py',
               _narrow(
                   backbone=dict(base_channels=8),
                   decode_head=dict(in_channels=8, channels=8))),
    'pspnet':
    ('mmseg::_base_/models/pspnet_r50-d8.py',
     dict(
         _narrow(
             backbone=dict(depth=18, stem_channels=8, base_channels=8),
             decode_head=dict(in_channels=64, channels=16),
             auxiliary_head=dict(in_channels=32, channels=8)),
         pretrained=None)),
    'frrn-a': ('configs/_base_/models/frrn_a.py',
               _narrow(
                   backbone=dict(base_channels=8, stream_channels=8),
                   decode_head=dict(in_channels=8, channels=8))),
    'frrn-b': ('configs/_base_/models/frrn_b.py',
               _narrow(
                   backbone=dict(base_channels=8, stream_channels=8),
                   decode_head=dict(in_channels=8, channels=8))),
}


def model_base(arch: str) -> str:
    """The ``_base_`` entry of an architecture (absolute if local)."""
    base = TINY_MODELS[arch][0]
    return base if '::' in base else osp.join(ROOT, base)


def model_overrides(arch: str, num_classes: int) -> Dict:
    """The ``model = dict(...)`` overrides for a tiny model."""
    if arch not in TINY_MODELS:
        raise ValueError(f'unknown architecture {arch!r}; choose from '
                         f'{sorted(TINY_MODELS)}')
    overrides = copy.deepcopy(TINY_MODELS[arch][1])
    for head in ('decode_head', 'auxiliary_head'):
        if head in overrides:
            overrides[head]['num_classes'] = num_classes
    return overrides


__all__ = ['TINY_MODELS', 'model_base', 'model_overrides']

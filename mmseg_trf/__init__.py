"""mmseg-trf: transferability estimation and transferability-weighted
finetuning for MMSegmentation.

Importing the package registers its datasets, transforms, models, losses and
hooks in MMSeg's registries (``mmseg.registry``), so configs use them with
``custom_imports = dict(imports=['mmseg_trf'])`` and
``default_scope = 'mmseg'``. The core (:mod:`mmseg_trf.metrics`,
:mod:`~mmseg_trf.maps` but its builder,
:mod:`~mmseg_trf.sampling`, :mod:`~mmseg_trf.evaluation`) imports nothing
from OpenMMLab and works where MMSeg is not installed.
"""
from importlib.util import find_spec

from .version import __version__, version_info

if find_spec('mmseg') is not None:
    from . import datasets, engine, models, utils  # noqa: F401  registration

__all__ = ['__version__', 'version_info']

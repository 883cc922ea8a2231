"""mmseg-trf: transferability estimation and transferability-weighted
finetuning for MMSegmentation.

Importing the package registers its datasets, transforms, models, losses and
hooks in MMSeg's registries (``mmseg.registry``), so configs use them with
``custom_imports = dict(imports=['mmseg_trf'])`` and
``default_scope = 'mmseg'``. :mod:`mmseg_trf.metrics` holds the metrics
themselves and imports nothing from MMSeg.
"""
from . import datasets, engine, models, utils  # noqa: F401  registration
from .version import __version__, version_info

__all__ = ['__version__', 'version_info']

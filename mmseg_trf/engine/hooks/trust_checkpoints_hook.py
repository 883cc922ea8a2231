"""Let MMSeg's own tools load the runner checkpoints a config names."""
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.checkpoint import trust_resumed_checkpoint


@HOOKS.register_module()
class TrustCheckpointsHook(Hook):
    """Trust the checkpoints this run's config names, so that MMSeg's own
    ``tools/train.py`` and ``tools/test.py`` load the files MMEngine's
    runner saved (torch >= 2.6 refuses them by default: ``Unsupported
    global: mmengine.logging.history_buffer.HistoryBuffer``).

    Opt in per config; importing the package changes nothing::

        custom_imports = dict(imports=['mmseg_trf'])
        custom_hooks = [dict(type='TrustCheckpointsHook')]

    In ``before_run``, which the runner calls before it loads weights, the
    config's ``load_from`` (what MMSeg's ``test.py`` sets from its
    checkpoint argument) and, for ``--resume`` without it, the latest
    checkpoint in the work dir are loaded with ``weights_only=False``
    (:mod:`mmseg_trf.utils.checkpoint`); every other file keeps torch's
    safe default. Trust only checkpoints you made or got from a source you
    trust: unpickling can run code.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Trust ``load_from`` or the checkpoint a resume will load."""
        trust_resumed_checkpoint(runner.cfg)


__all__ = ['TrustCheckpointsHook']

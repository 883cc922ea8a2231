"""Sources picked from MMSeg's own model zoo metafiles."""
import os.path as osp
from typing import List, Optional, Sequence

import yaml

from .scoring import SourceSpec


def mmseg_mim_root() -> str:
    """The ``.mim`` folder of the installed mmsegmentation (configs and
    ``model-index.yml``)."""
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim')


def zoo_entries(root: Optional[str] = None) -> List[dict]:
    """Every model entry of every metafile listed in ``model-index.yml``."""
    root = root or mmseg_mim_root()
    with open(osp.join(root, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    entries = []
    for metafile in index.get('Import', []):
        with open(osp.join(root, metafile)) as f:
            entries += yaml.safe_load(f).get('Models', []) or []
    return entries


def zoo_sources(collections: Sequence[str],
                training_data: Optional[str] = None,
                dataset: Optional[str] = None,
                root: Optional[str] = None) -> List[SourceSpec]:
    """Sources from the zoo, by collection (algorithm) and training data.

    Args:
        collections (Sequence[str]): e.g. ``['FCN', 'PSPNet']``
            (case-insensitive).
        training_data (str, optional): e.g. ``'Cityscapes'``.
        dataset (str, optional): Source dataset config for OTCE, used for
            every picked source.
        root (str, optional): ``.mim`` folder (default: installed mmseg).

    Returns:
        list[SourceSpec]: Config as ``mmseg::<algo>/<file>``, checkpoint as
        the entry's ``Weights`` URL, architecture as its collection (the
        family an architecture history names, e.g. ``PSPNet``).
    """
    wanted = {c.lower() for c in collections}
    picked = []
    for entry in zoo_entries(root):
        data = entry.get('Metadata', {}).get('Training Data', '')
        data = data if isinstance(data, list) else [data]
        if entry.get('In Collection', '').lower() not in wanted:
            continue
        if training_data and training_data.lower() not in (str(d).lower()
                                                           for d in data):
            continue
        config = entry['Config'].split('configs/', 1)[-1]
        picked.append(
            SourceSpec(
                name=entry['Name'],
                config=f'mmseg::{config}',
                checkpoint=entry.get('Weights'),
                dataset=dataset,
                source_miou=_metafile_miou(entry),
                architecture=entry['In Collection']))
    return picked


def _metafile_miou(entry: dict) -> Optional[float]:
    """The entry's own mIoU on its training data (a fraction), if listed."""
    results = entry.get('Results') or []
    for result in results if isinstance(results, list) else [results]:
        miou = (result.get('Metrics') or {}).get('mIoU')
        if isinstance(miou, (int, float)):
            return float(miou) / 100
    return None


__all__ = ['zoo_sources', 'zoo_entries', 'mmseg_mim_root']

"""GTA5 (Richter et al., ECCV 2016) in the 19 Cityscapes classes."""
import numpy as np
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS


def gta5_to_train_ids() -> np.ndarray:
    """Lookup table GTA5 label id -> Cityscapes train id (255: ignored).

    GTA5 label maps use the Cityscapes label ids (0-33); the mapping is
    cityscapesscripts' label table: ids without a train id (or ignored in
    evaluation) and all others up to 255 map to 255.

    Returns:
        ndarray: ``(256,)`` uint8 table.
    """
    from cityscapesscripts.helpers.labels import labels
    table = np.full(256, 255, np.uint8)
    for label in labels:
        if 0 <= label.id < 256 and 0 <= label.trainId < 255:
            table[label.id] = label.trainId
    return table


@DATASETS.register_module()
class GTA5Dataset(CityscapesDataset):
    """GTA5 frames with train-id labels made by ``tools/convert_gta5.py``.

    Layout: ``images/<frame>.png`` and ``labels/<frame>.png`` (the raw ids)
    as released; the converter writes ``labels/<frame>_labelTrainIds.png``
    beside them, which this dataset reads. Classes and palette are
    Cityscapes'.

    Args:
        img_suffix (str): Image suffix.
        seg_map_suffix (str): Converted label suffix.
        **kwargs: ``BaseSegDataset`` arguments.
    """

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

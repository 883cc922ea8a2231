"""One Cityscapes city as a few-shot target: labelled and held-out images."""
import os.path as osp

from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

SUBSETS = ('labelled', 'heldout', 'all')


@DATASETS.register_module()
class CityscapesCityDataset(CityscapesDataset):
    """The images of one Cityscapes city, split deterministically.

    The rule: the city's images are sorted by file name (MMSeg's own
    order); the first ``num_labelled`` form the labelled finetuning set
    (the papers: 20), the rest are held out for evaluation. The seed's
    targets aachen, cologne, jena, strasbourg and the OTCE paper's erfurt
    are all in the ``train`` split, so that is the default folder.

    Args:
        city (str): City folder name, e.g. ``'aachen'``.
        subset (str): ``'labelled'``, ``'heldout'`` or ``'all'``.
        num_labelled (int): Size of the labelled set.
        split (str): Cityscapes split folder holding the city.
        **kwargs: ``CityscapesDataset`` arguments (``data_root``,
            ``pipeline``, ...); ``data_prefix`` is derived from the city.
    """

    def __init__(self,
                 city: str,
                 subset: str = 'labelled',
                 num_labelled: int = 20,
                 split: str = 'train',
                 **kwargs) -> None:
        if subset not in SUBSETS:
            raise ValueError(f'subset must be one of {SUBSETS}, got '
                             f'{subset!r}')
        self.city, self.subset = city, subset
        self.num_labelled = num_labelled
        kwargs['data_prefix'] = dict(
            img_path=osp.join('leftImg8bit', split, city),
            seg_map_path=osp.join('gtFine', split, city))
        super().__init__(**kwargs)

    def load_data_list(self) -> list:
        """The city's images in sorted order, cut to the subset."""
        data_list = super().load_data_list()
        if self.subset == 'labelled':
            return data_list[:self.num_labelled]
        if self.subset == 'heldout':
            return data_list[self.num_labelled:]
        return data_list

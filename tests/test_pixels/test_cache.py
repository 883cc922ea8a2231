"""Dataset fingerprints see rewritten files."""
import os

from mmseg_trf.pixels.cache import dataset_fingerprint


class Files:
    """A stand-in dataset: one image and its label."""

    def __init__(self, folder):
        self.img, self.seg = folder / 'img.png', folder / 'seg.png'
        self.img.write_bytes(b'image')
        self.seg.write_bytes(b'label-1')

    def get_data_info(self, index):
        return dict(img_path=str(self.img), seg_map_path=str(self.seg))


def test_a_same_size_same_mtime_rewrite_changes_both_fingerprints(tmp_path):
    data = Files(tmp_path)
    before = {c: dataset_fingerprint(data, [0], c) for c in (True, False)}
    stat = os.stat(data.seg)
    data.seg.write_bytes(b'label-2')  # same size
    os.utime(data.seg, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = {c: dataset_fingerprint(data, [0], c) for c in (True, False)}
    assert after[True] != before[True] and after[False] != before[False]


def test_content_fingerprints_ignore_a_touch(tmp_path):
    data = Files(tmp_path)
    before = dataset_fingerprint(data, [0])
    os.utime(data.seg, ns=(1, 1))
    assert dataset_fingerprint(data, [0]) == before

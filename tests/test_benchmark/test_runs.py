"""What a training run left in its work dir, and continuing a copy of it."""
import pytest
import torch

from mmseg_trf.benchmark import StepFailed
from mmseg_trf.benchmark.runs import copy_run


def finished_run(path):
    """A run's files as MMEngine leaves them, with absolute paths inside."""
    path.mkdir()
    info = dict(
        best_ckpt=str(path / 'best_mIoU_iter_10.pth'),
        last_ckpt=str(path / 'iter_10.pth'),
        keep_ckpt_ids=[10])
    torch.save(
        dict(message_hub=dict(runtime_info=info), state_dict={}),
        path / 'iter_10.pth')
    torch.save({}, path / 'best_mIoU_iter_10.pth')
    (path / 'last_checkpoint').write_text(str(path / 'iter_10.pth'))
    (path / '.mmseg_trf.lock').write_text('4242 (a finished step)')
    return path


def test_a_copied_run_points_at_its_own_files(tmp_path):
    source = finished_run(tmp_path / 'truth')
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    copy = tmp_path / 'continued'
    copy_run(str(source), str(copy))
    assert (copy / 'last_checkpoint').read_text() == str(copy / 'iter_10.pth')
    info = torch.load(
        copy / 'iter_10.pth',
        weights_only=False)['message_hub']['runtime_info']
    # the best-checkpoint hook deletes the old best: it must be the copy's
    assert info['best_ckpt'] == str(copy / 'best_mIoU_iter_10.pth')
    assert info['last_ckpt'] == str(copy / 'iter_10.pth')
    assert info['keep_ckpt_ids'] == [10]
    assert not (copy / '.mmseg_trf.lock').exists()
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before


def test_a_run_without_a_checkpoint_cannot_be_continued(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(StepFailed, match='no checkpoint'):
        copy_run(str(tmp_path / 'empty'), str(tmp_path / 'copy'))
    assert not (tmp_path / 'copy').exists()


def test_a_copy_interrupted_before_it_was_complete_is_made_again(tmp_path):
    source = finished_run(tmp_path / 'truth')
    (tmp_path / 'continued.partial').mkdir()
    (tmp_path / 'continued.partial' / 'iter_10.pth').write_text('cut short')
    copy_run(str(source), str(tmp_path / 'continued'))
    assert not (tmp_path / 'continued.partial').exists()
    info = torch.load(
        tmp_path / 'continued' / 'iter_10.pth',
        weights_only=False)['message_hub']['runtime_info']
    assert info['last_ckpt'] == str(tmp_path / 'continued' / 'iter_10.pth')

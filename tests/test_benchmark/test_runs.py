"""What a training run left in its work dir, and continuing a copy of it."""
import pytest
import torch

from mmseg_trf.benchmark import StepFailed
from mmseg_trf.benchmark.runs import copy_run, resume_or_set_aside


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


def stopped_while_replacing(path, older=True):
    """A run stopped inside MMEngine's window: the kept checkpoint deleted,
    the next one cut off while written, the marker naming the deleted one
    (with ``older``, a second kept checkpoint is left: max_keep_ckpts=2)."""
    path.mkdir()
    if older:
        torch.save(dict(state_dict={}), path / 'iter_40.pth')
    (path / 'iter_60.pth').write_bytes(b'PK\x03\x04cut off')
    (path / 'last_checkpoint').write_text(str(path / 'iter_50.pth'))
    (path / '20261204_000012').mkdir()
    return path


def test_a_run_stopped_mid_checkpoint_resumes_from_the_last_whole_one(
        tmp_path):
    run = stopped_while_replacing(tmp_path / 'run')
    said = []
    assert resume_or_set_aside(str(run), said.append)
    assert (run / 'last_checkpoint').read_text() == str(run / 'iter_40.pth')
    assert not said


def test_a_run_with_nothing_left_to_resume_is_set_aside_and_starts_afresh(
        tmp_path):
    said = []
    for number in (1, 2):
        run = stopped_while_replacing(tmp_path / 'run', older=False)
        assert not resume_or_set_aside(str(run), said.append)
        assert not run.exists()
        aside = tmp_path / f'run.interrupted{number}'
        assert (aside / 'iter_60.pth').exists()
        assert str(aside) in said[-1]
    assert not resume_or_set_aside(
        str(tmp_path / 'never_started'), said.append)
    assert len(said) == 2


def test_a_run_whose_marker_names_a_whole_checkpoint_resumes_untouched(
        tmp_path):
    run = finished_run(tmp_path / 'run')
    assert resume_or_set_aside(str(run), print)
    assert (run / 'last_checkpoint').read_text() == str(run / 'iter_10.pth')

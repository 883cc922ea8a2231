"""tools/select_source.py's arguments (the search itself runs end to end in
tests/test_demo)."""
from fractions import Fraction

import pytest

from ..conftest import load_tool

REQUIRED = ['spec.yaml', '--max-iters', '500', '--min-iters', '100']


@pytest.fixture(scope='module')
def tool():
    return load_tool('select_source.py')


@pytest.mark.parametrize('width, parsed', [('auto', 'auto'), ('3', 3),
                                           ('2/3', Fraction(2, 3)),
                                           ('0.5', Fraction(1, 2)), ('1', 1)])
def test_width_is_a_count_a_share_or_auto(tool, width, parsed):
    args = tool.parse_args(REQUIRED + ['--width', width])
    assert args.width == parsed and type(args.width) is type(parsed)


@pytest.mark.parametrize('width, message', [
    ('0/3', 'a share of the sources is in (0, 1]'),
    ('4/3', 'a share of the sources is in (0, 1]'),
    ('1.5', 'a share of the sources is in (0, 1]'),
    ('0', 'a number of sources is at least 1'),
    ('-2', 'a number of sources is at least 1'),
])
def test_a_width_of_no_source_or_too_many_is_refused(tool, width, message,
                                                     capsys):
    with pytest.raises(SystemExit):
        tool.parse_args(REQUIRED + ['--width', width])
    assert message in capsys.readouterr().err


def test_the_defaults_are_the_study_design(tool):
    from mmseg_trf.benchmark.search import DEFAULT_ETA, DEFAULT_WIDTH
    args = tool.parse_args(REQUIRED)
    assert (args.width, args.eta, args.rung_score, args.keep_first,
            args.gain_history) == (DEFAULT_WIDTH, DEFAULT_ETA, 'best', False,
                                   None)


@pytest.mark.parametrize(
    'extra', [['--gain-history', 'h.yaml'], ['--full-iters', '3000']])
def test_gain_history_and_full_iters_go_together(tool, extra, capsys):
    with pytest.raises(SystemExit):
        tool.parse_args(REQUIRED + extra)
    assert 'go together' in capsys.readouterr().err


@pytest.mark.parametrize('extra, message', [
    (['--min-iters', '600'], 'need 0 < --min-iters <= --max-iters; got 600'),
    (['--min-iters', '0'], 'got 0 and 500'),
    (['--eta', '1'], '--eta is at least 2; got 1'),
])
def test_rungs_that_cannot_run_are_refused(tool, extra, message, capsys):
    with pytest.raises(SystemExit):
        tool.parse_args(REQUIRED + extra)
    assert message in capsys.readouterr().err


def test_both_rungs_are_required(tool, capsys):
    with pytest.raises(SystemExit):
        tool.parse_args(['spec.yaml', '--max-iters', '500'])
    assert '--min-iters' in capsys.readouterr().err

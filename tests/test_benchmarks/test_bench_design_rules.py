from fractions import Fraction

from benchmarks.bench_design_rules import rule_lines
from mmseg_trf.evaluation import SearchDesign


def test_each_rule_names_the_runs_that_move_its_design():
    """Left out, y-seed0 makes dear affordable for every rule; x-seed0,
    spiky's one bad run, moves the worst-run rule's steady to spiky;
    x-seed1, spiky's good run, moves the worst-scenario rule's spiky to
    steady (x's mean for spiky is then 3.0)."""
    spiky = SearchDesign(Fraction(1, 2), Fraction(1, 10), Fraction(1, 2))
    steady = SearchDesign(Fraction(1, 2), Fraction(3, 20), Fraction(1, 2))
    dear = SearchDesign(Fraction(1), Fraction(1, 2), Fraction(1))

    def run(a, b, dear_wall=0.2):  # (iterations, wall time, regret)
        return {
            spiky: (0.1, 0.1, a),
            steady: (0.1, 0.1, b),
            dear: (0.2, dear_wall, 0.0)
        }

    points = {
        'x-seed0': run(3.0, 2.0),
        'x-seed1': run(0.0, 2.0),
        'y-seed0': run(1.0, 0.5, dear_wall=0.3)
    }
    lines = rule_lines(points, draws=100)
    assert lines[2].startswith(
        f'| worst | {steady.name} | 2 of 3 (x-seed0, y-seed0) |')
    assert lines[4].startswith(f'| scenario | {spiky.name} | 2 of 3 '
                               '(x-seed1, y-seed0) |')

from fractions import Fraction
from types import SimpleNamespace

import pytest

from mmseg_trf.evaluation import SearchDesign


@pytest.fixture
def one_bad_run():
    """Three simulated search designs on scenario x (two runs) and y (one),
    each run design -> (iterations, wall time, regret): ``spiky`` loses 3.0
    on x-seed0 and nothing on x-seed1, ``steady`` 2.0 on both, ``dear``
    nothing but costs 0.3 of the wall time on y (over the affordable
    quarter). ``run(a, b, dear_wall)`` builds another run."""
    spiky = SearchDesign(Fraction(1, 2), Fraction(1, 10), Fraction(1, 2))
    steady = SearchDesign(Fraction(1, 2), Fraction(3, 20), Fraction(1, 2))
    dear = SearchDesign(Fraction(1), Fraction(1, 2), Fraction(1))

    def run(a, b, dear_wall=0.2):
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
    return SimpleNamespace(
        spiky=spiky, steady=steady, dear=dear, run=run, points=points)

"""The core works in a Python where OpenMMLab is not installed."""
import subprocess
import sys

from .conftest import ROOT

# None in sys.modules is how Python marks a module as not importable
BLOCKER = '''
import sys
for name in ('mmseg', 'mmengine', 'mmcv'):
    sys.modules[name] = None
'''

CORE = '''
import numpy as np
from mmseg_trf.metrics import otce, leep, logme, hscore
from mmseg_trf.maps import transferability_map, weight_map
from mmseg_trf.maps import TransferabilityMap
from mmseg_trf.sampling import draw_pool
from mmseg_trf.evaluation import rank_correlations, fuse_scores
rng = np.random.default_rng(0)
x, y = rng.normal(size=(200, 4)), rng.integers(0, 3, 200)
print(logme(x, y), hscore(x, y), otce(x, y, x + 0.1, y))
assert not any(m.split('.')[0] in ('mmseg', 'mmengine', 'mmcv')
               and sys.modules[m] is not None for m in sys.modules)
'''


def test_core_imports_and_runs_without_openmmlab():
    proc = subprocess.run([sys.executable, '-c', BLOCKER + CORE],
                          capture_output=True,
                          text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]

import subprocess
import sys
from pathlib import Path


def test_the_designs_compared_include_one_the_tool_runs_without_history():
    script = Path(__file__).parents[2] / 'benchmarks' / 'bench_selection.py'
    out = subprocess.run([
        sys.executable,
        str(script), '--only', 'none', '--rung-scores', 'gain', 'gain-kept'
    ],
                         capture_output=True,
                         text=True)
    assert out.returncode == 2
    assert 'needs best, level or kept too' in out.stderr

"""Run a transferability benchmark grid and write its report.

    python tools/benchmark.py SPEC.yaml [--work-dir DIR] [--executor slurm]
    python tools/benchmark.py SPEC.yaml --status   # the grid, while it runs

SPEC lists the sources (config, training data, finetuning config, optional
checkpoint), the targets and the protocols (see
``configs/benchmark/icip2023.yaml``). Every step is cached under the work
dir, so an interrupted run continues where it stopped; with ``gpus: N`` in
the spec, training and scoring run distributed on N processes; with
``executor: slurm`` (or ``--executor slurm``) every step is a Slurm job
(``slurm:`` in the spec: partition, time, retries, ...) and a restarted run
finds its queued and running jobs again. Writes
``<work-dir>/report/report.md`` (Tables 2 and 3, the ground truth and its
noise, Figs. 4-6) and, where the sources name their ``architecture``,
``<work-dir>/report/history.yaml``: the targets' finetuning results as a
history for later targets (``score_sources.py --architecture-history``,
``select_source.py --gain-history``).
"""
import argparse
import json
import os.path as osp

import mmseg_trf  # noqa: F401
from mmseg_trf.benchmark import BenchmarkRunner, BenchmarkSpec, write_report
from mmseg_trf.benchmark.executor import STATES


def print_status(work_dir: str) -> None:
    """The grid as the running (or last) run left it: each step's state
    and log, then the counts."""
    path = osp.join(work_dir, 'status.json')
    if not osp.isfile(path):
        raise SystemExit(f'no run has started in {work_dir} yet')
    with open(path) as f:
        grid = json.load(f)
    order = sorted(grid, key=lambda k: (STATES.index(grid[k]['state']), k))
    for key in order:
        step = grid[key]
        print(f"{step['state']:8} {key}  {step['log']}")
    print(', '.join(f"{sum(s['state'] == state for s in grid.values())} "
                    f'{state}' for state in STATES))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('spec', help='benchmark spec (YAML)')
    parser.add_argument(
        '--work-dir', help='default: work_dirs/benchmark/'
        '<spec name>')
    parser.add_argument(
        '--executor',
        choices=['local', 'slurm'],
        help='where steps run (default: the spec\'s `executor`, else local)')
    parser.add_argument(
        '--status',
        action='store_true',
        help='print each step\'s state (queued, running, done, failed) and '
        'log, and exit')
    args = parser.parse_args()
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'benchmark',
        osp.splitext(osp.basename(args.spec))[0])
    if args.status:
        print_status(work_dir)
        return
    spec = BenchmarkSpec.from_file(args.spec)
    spec.executor = args.executor or spec.executor
    results = BenchmarkRunner(spec, work_dir).run()
    report = write_report(results, spec, work_dir)
    with open(report) as f:
        print(f.read())
    print(f'report: {report}')
    if results['failures']:
        print(f'{len(results["failures"])} steps failed (listed in the '
              'report); rerun to retry them')
        raise SystemExit(1)


if __name__ == '__main__':
    main()

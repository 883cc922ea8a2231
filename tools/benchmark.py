"""Run a transferability benchmark grid and write its report.

    python tools/benchmark.py SPEC.yaml [--work-dir DIR]

SPEC lists the sources (config, training data, finetuning config, optional
checkpoint), the targets and the protocols (see
``configs/benchmark/icip2023.yaml``). Every step is cached under the work
dir, so an interrupted run continues where it stopped; with ``gpus: N`` in
the spec, training and scoring run distributed on N processes. Writes
``<work-dir>/report/report.md`` (Tables 2 and 3, the ground truth and its
noise, Figs. 4-6).
"""
import argparse
import os.path as osp

import mmseg_trf  # noqa: F401
from mmseg_trf.benchmark import BenchmarkRunner, BenchmarkSpec, write_report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('spec', help='benchmark spec (YAML)')
    parser.add_argument(
        '--work-dir', help='default: work_dirs/benchmark/'
        '<spec name>')
    args = parser.parse_args()
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'benchmark',
        osp.splitext(osp.basename(args.spec))[0])
    spec = BenchmarkSpec.from_file(args.spec)
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

"""Bootstrap intervals of the rank correlations: the project's batched
statistic beside a scipy call per resample (the reference, as the project
computed them before), in the same run, on the same resamples.

    python benchmarks/bench_intervals.py [--sources 12 30 150] [--reps 3]

Prints a Markdown table: seconds per interval (each repetition) and the
largest difference between the two intervals' ends.
"""
import argparse
import time

import numpy as np
from scipy import stats

from mmseg_trf.evaluation import bootstrap_interval, rank_correlations


def reference_interval(scores, truth, criterion, resamples=2000, seed=0):
    """One scipy call per resample, 95% percentile interval."""
    values = stats.bootstrap((scores, truth),
                             lambda s, t: rank_correlations(s, t)[criterion],
                             paired=True,
                             vectorized=False,
                             n_resamples=resamples,
                             method='percentile',
                             random_state=seed).bootstrap_distribution
    values = values[np.isfinite(values)]
    return float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, np.array(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sources', type=int, nargs='+', default=[12, 30])
    parser.add_argument('--reps', type=int, default=3)
    args = parser.parse_args()
    print('| sources | criterion | batched (s) | scipy per resample (s) '
          '| largest difference |')
    print('|---|---|---|---|---|')
    for n in args.sources:
        rng = np.random.default_rng(n)
        truth = rng.uniform(0.2, 0.6, n)
        scores = truth + rng.normal(0, 0.08, n)
        for criterion in ('spearman', 'kendall'):
            ours, ref, diff = [], [], 0.0
            for _ in range(args.reps):
                t1, a = timed(bootstrap_interval, scores, truth, criterion)
                t2, b = timed(reference_interval, scores, truth, criterion)
                ours.append(t1)
                ref.append(t2)
                diff = max(diff, float(np.abs(a - b).max()))
            print(f'| {n} | {criterion} | '
                  f"{', '.join(f'{t:.3f}' for t in ours)} | "
                  f"{', '.join(f'{t:.2f}' for t in ref)} | {diff:.1e} |")


if __name__ == '__main__':
    main()

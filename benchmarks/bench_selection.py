"""Which source-selection method to trust: every metric, two fusions and
the baselines over scene seeds and scenarios.

    python benchmarks/bench_selection.py [--scenarios A.yaml B.yaml]
        [--seeds 0 1 2 3 4] [--out-dir demo_out]

Each (scenario, seed) is the demo's benchmark (sources trained, finetuned
for the ground truth, scored; no weighted finetuning or pixel sweep), run
in ``<out-dir>/<scenario>-seed<S>`` with the demo's cache, so ``make demo``
and this study share their steps and a rerun only reprints. Writes
``<out-dir>/selection_study.md`` and ``selection_study.png``: per method
the mean, range and 95% interval of the mean of Spearman and top-1 regret
over runs, per scenario and pooled, and the default chosen by
:func:`mmseg_trf.evaluation.choose_default` (best mean regret and
Spearman together, among the metrics and fusions).
"""
import argparse
import json
import os.path as osp
import sys
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
SCENARIOS = [
    osp.join(ROOT, 'configs', 'demo', f'scenario_{name}.yaml')
    for name in ('default', 'shared_arch')
]
FUSION_RULES = ('rank', 'zscore')
# the fusions' members, fixed before the study (CC-FV came later and is
# compared on its own)
FUSED = ('nce', 'otce', 'leep', 'logme', 'hscore')
CRITERIA = ('spearman', 'kendall', 'weighted_kendall', 'regret',
            'relative_top1', 'top3')


def run_scenario(path: str, seed: int, out_dir: str) -> dict:
    """The demo's benchmark for one scenario and seed (cached)."""
    from mmseg_trf.benchmark import BenchmarkRunner, BenchmarkSpec
    from mmseg_trf.demo import DemoBuilder, Scenario
    name = osp.splitext(osp.basename(path))[0]
    work_dir = osp.join(out_dir, f'{name}-seed{seed}')
    spec = BenchmarkSpec.from_file(
        DemoBuilder(Scenario.from_file(path), work_dir, seed).build())
    spec.weighted.sources = 'none'
    spec.scoring.pixel_sweep = []
    results = BenchmarkRunner(
        spec,
        osp.join(work_dir, 'benchmark'),
        echo=lambda line: print('   ', line)).run()
    if results['failures']:
        raise SystemExit(f'{work_dir}: steps failed: '
                         f'{sorted(results["failures"])}; rerun to retry')
    return results


def source_results(results: dict):
    """The scored sources of the (single) target, with ground truth."""
    from mmseg_trf.apis.scoring import MetricResult, SourceResult
    (target, scored), = results['scores'].items()
    truth = results['truth'][target]
    out = []
    for source in scored['ranking']['sources']:
        metrics = {k: MetricResult(**v) for k, v in source['metrics'].items()}
        out.append(
            SourceResult(
                **dict(source, metrics=metrics, miou=truth[source['name']])))
    return out


def run_criteria(results: dict, metrics) -> dict:
    """method -> criterion for one run (metrics, fusions, baselines)."""
    from mmseg_trf.apis.report import add_fusion, correlations
    sources = source_results(results)
    fusions = []
    for rule in FUSION_RULES:
        fusions.append(f'fusion-{rule}')
        add_fusion(sources, [m for m in metrics if m in FUSED], rule,
                   fusions[-1])
    rows = correlations(sources, list(metrics) + fusions)
    return {
        method: {
            c: row[c]
            for c in CRITERIA
        }
        for method, row in rows.items()
    }


def cell(stat: dict, digits: int) -> str:
    if not stat['runs']:
        return '-'
    return (f"{stat['mean']:.{digits}f} [{stat['low']:.{digits}f}, "
            f"{stat['high']:.{digits}f}] ({stat['min']:.{digits}f} to "
            f"{stat['max']:.{digits}f})")


def table(summary: dict, default: str) -> list:
    lines = [
        '| method | Spearman | top-1 regret (mIoU points) | relative top-1 '
        '| best in top 3 | runs |', '|---|---|---|---|---|---|'
    ]
    for method, row in summary.items():
        label = f'**{method}** (default)' if method == default else method
        lines.append(f"| {label} | {cell(row['spearman'], 2)} | "
                     f"{cell(row['regret'], 1)} | "
                     f"{row['relative_top1']['mean']:.3f} | "
                     f"{row['top3']['mean']:.2f} | "
                     f"{row['spearman']['runs']} |")
    return lines


def figure(runs: list, methods: list, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    scenarios = sorted({scenario for scenario, _, _ in runs})
    for ax, criterion in zip(axes, ('spearman', 'regret')):
        for offset, scenario in enumerate(scenarios):
            for x, method in enumerate(methods):
                values = [
                    row[method][criterion] for name, _, row in runs
                    if name == scenario and method in row
                ]
                ax.scatter(
                    np.full(len(values), x + 0.15 * (offset - 0.5)),
                    values,
                    s=18,
                    color=f'C{offset}',
                    label=scenario if x == 0 else None)
            means = [
                np.nanmean([row[m][criterion] for _, _, row in runs])
                for m in methods
            ]
        ax.scatter(
            range(len(methods)),
            means,
            marker='_',
            s=400,
            color='k',
            label='mean of all runs')
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels(methods, rotation=35, ha='right')
        ax.set_ylabel('Spearman with finetuned mIoU' if criterion ==
                      'spearman' else 'top-1 regret (mIoU points)')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle('Source selection over scene seeds (one dot per run)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--scenarios', nargs='+', default=SCENARIOS)
    parser.add_argument(
        '--seeds', nargs='+', type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'demo_out'))
    args = parser.parse_args()
    import mmseg_trf  # noqa: F401
    from mmseg_trf.demo import Scenario
    from mmseg_trf.evaluation import choose_default, summarise_runs
    start = time.time()
    runs, metrics = [], {}
    for path in args.scenarios:
        name = osp.splitext(osp.basename(path))[0]
        scored = Scenario.from_file(path).scoring['metrics']
        metrics.update(dict.fromkeys(scored))
        for seed in args.seeds:
            print(f'[study] {name} seed {seed} '
                  f'({time.time() - start:.0f} s so far)')
            runs.append(
                (name, seed,
                 run_criteria(run_scenario(path, seed, args.out_dir), scored)))
    pooled = summarise_runs([row for _, _, row in runs], CRITERIA)
    candidates = [m for m in pooled if m in metrics or m.startswith('fusion')]
    fused = ', '.join(m for m in metrics if m in FUSED)
    default = choose_default(pooled, candidates)
    text = [
        '# Source selection over scene seeds and scenarios', '',
        f'`python benchmarks/bench_selection.py --scenarios '
        f'{" ".join(osp.relpath(p, ROOT) for p in args.scenarios)} --seeds '
        f'{" ".join(map(str, args.seeds))}`', '',
        'Cells: mean over runs [95% bootstrap interval of the mean] (lowest '
        'to highest run). Fusions average the ranks (or z-scores) of '
        f'{fused}. Default: the best sum of the ranks of mean '
        'regret and mean Spearman among the metrics and fusions.', '',
        f'## All runs ({len(runs)})', '', *table(pooled, default)
    ]
    for path in args.scenarios:
        name = osp.splitext(osp.basename(path))[0]
        rows = [row for scenario, _, row in runs if scenario == name]
        text += [
            '', f'## {name} ({len(rows)} seeds)', '',
            *table(summarise_runs(rows, CRITERIA), default)
        ]
    report = osp.join(args.out_dir, 'selection_study.md')
    with open(report, 'w') as f:
        f.write('\n'.join(text) + '\n')
    with open(osp.join(args.out_dir, 'selection_study.json'), 'w') as f:
        json.dump(dict(runs=runs, pooled=pooled, default=default), f, indent=1)
    figure(runs, list(pooled), osp.join(args.out_dir, 'selection_study.png'))
    print('\n'.join(text))
    print(f'[study] {report}; wall time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()

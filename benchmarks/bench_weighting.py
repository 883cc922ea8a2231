"""Does transferability weighting help finetuning? A paired study with
controls, on the demo's trained sources.

    python benchmarks/bench_weighting.py [--scenario S.yaml] [--scene-seed 0]
        [--seeds 0 1 2] [--iters 250] [--lr 5e-4] [--out-dir demo_out]

Three sources of the demo's zoo (the best, the median and the worst by
their finetuned mIoU) are finetuned with every variant and seed: vanilla;
OTCE, LEEP and LogME weights (eq. 4); OTCE weights normalised by their sum,
at strength 2 (weights on [1, 1 + 2 (e - 1)]), with the seed authors'
released rule (exp(-t)) and with the map recomputed from the model being
finetuned every quarter of the budget; a per-pixel LEEP map per image; and
five controls: the OTCE weights shuffled across locations (same
distribution, no location information), the per-image map's weights
shuffled within each image's labelled pixels, the OTCE weights' mean
everywhere (same loss scale), class-balanced cross-entropy
(inverse-frequency class weights of the target's labelled pixels, averaged
over labelled pixels as PyTorch does) and MMSeg's OHEM pixel sampler.
``--scenario configs/demo/scenario_local_shift.yaml`` runs it where the
sources differ from the target in a few classes only (transferability
varies in space). Each run keeps its best validation mIoU (the seed
protocol); each variant is compared with vanilla run by run (same source,
same seed): the mean paired difference with a 95% bootstrap interval, per
source and pooled. The vanilla validation curves show whether
the budget reached a plateau. Every run is a cached benchmark step under
``<out-dir>/<scenario>-seed<S>/weighting_study-<iters>it``; a rerun only
reprints.
Writes ``weighting_study.md``, ``.json`` and ``.png`` there.
"""
import argparse
import json
import os.path as osp
import sys
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
DEFAULT = osp.join(ROOT, 'configs', 'demo', 'scenario_default.yaml')
MAP = {'metrics': '[]', 'num_pixels': 2000, 'repetitions': 3}
OHEM = {
    'model.decode_head.sampler.type': 'OHEMPixelSampler',
    'model.decode_head.sampler.thresh': 0.7,
    'model.decode_head.sampler.min_kept': 1600
}


def variants(class_weight, iters):
    from mmseg_trf.benchmark import FinetuneVariant as V
    weighted = [V(f'trf-{m}', m, MAP) for m in ('otce', 'leep', 'logme')]
    return [V()] + weighted + [
        V('trf-otce-weightsum', 'otce', dict(MAP, loss_normalize='weights')),
        V('trf-otce-strength2', 'otce', dict(MAP, strength=2)),
        # the seed authors' released rule: exp(-t), not normalised
        V('trf-otce-seed-code', 'otce', dict(MAP, weight_rule='seed_code')),
        # one per-pixel LEEP map per image, normalised over the image
        V('trf-leep-per-image', 'leep', dict(MAP, map_per_image=True)),
        # the map of the model being finetuned, at each quarter
        V('trf-otce-refresh', 'otce', dict(MAP, interval=iters // 4)),
        V('control-shuffled', 'otce', dict(MAP, control='shuffled')),
        # the per-image map's weights shuffled within each image
        V('control-per-image-shuffled', 'leep',
          dict(MAP, map_per_image=True, control='shuffled')),
        V('control-uniform', 'otce', dict(MAP, control='uniform')),
        # the hard-pixel baseline a user tries first: MMSeg's OHEM sampler
        # (probability below 0.7, at least a fifth of each 64 x 128 image)
        V('control-ohem', options=OHEM),
        # class weights in the weighted loss with every pixel weight 1
        # (strength 0): MMSeg's CrossEntropyLoss fails on class weights
        # with ignored labels
        V('control-class-balanced',
          'leep',
          dict(MAP, strength=0, loss_normalize='weights'),
          options={
              'model.decode_head.loss_decode.class_weight':
              [round(float(w), 4) for w in class_weight]
          }),
    ]


def target_class_weights(spec) -> np.ndarray:
    """Inverse-frequency weights of the target's labelled pixels."""
    from mmseg_trf.apis import dataset_config
    from mmseg_trf.maps import class_balanced_weights
    from mmseg_trf.pixels.features import build_dataset, read_label_maps
    dataset = build_dataset(dataset_config(spec.targets[0].dataset))
    classes = len(dataset.metainfo['classes'])
    counts = sum(
        np.bincount(m[m < classes].ravel(), minlength=classes)
        for m in read_label_maps(dataset))
    return class_balanced_weights(counts)


def differences(runs: dict,
                variant: str,
                baseline: str,
                sources,
                tests: int = 1) -> dict:
    """Paired mIoU differences (points), per source and pooled; the pooled
    one also as ``adjusted``: its interval widened for ``tests``
    comparisons (Bonferroni: confidence 1 - 0.05 / tests), since with
    several weightings one interval in twenty misses 0 by chance."""
    from mmseg_trf.evaluation import mean_interval
    out, pooled = {}, []
    for source in sources:
        diffs = [
            100 *
            (runs[(source, variant, seed)] - runs[(source, baseline, seed)])
            for name, v, seed in runs
            if (name, v) == (source, variant) and (source, baseline,
                                                   seed) in runs
        ]
        pooled += diffs
        out[source] = mean_interval(diffs)
    out['pooled'] = mean_interval(pooled)
    out['adjusted'] = mean_interval(pooled, 1 - 0.05 / tests)
    return out


def cell(stat: dict) -> str:
    if not stat['runs']:
        return '-'
    return (f"{stat['mean']:+.2f} [{stat['low']:+.2f}, {stat['high']:+.2f}]"
            f" (n={stat['runs']})")


def figure(curves: dict, table: dict, names: list, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for index, (source, runs) in enumerate(curves.items()):
        for seed, curve in enumerate(runs):
            axes[0].plot(
                list(curve),
                list(curve.values()),
                color=f'C{index}',
                alpha=0.7,
                label=source if seed == 0 else None)
    axes[0].set_xlabel('iteration')
    axes[0].set_ylabel('validation mIoU (%), vanilla')
    axes[0].set_title('Vanilla finetuning curves (one line per seed)')
    axes[0].legend(fontsize=8)
    for y, name in enumerate(names):
        stat = table[name]['pooled']
        axes[1].errorbar(
            stat['mean'],
            y,
            xerr=[[stat['mean'] - stat['low']], [stat['high'] - stat['mean']]],
            fmt='o',
            color='k' if name.startswith('trf') else 'grey',
            capsize=3)
    axes[1].axvline(0, color='r', lw=0.8)
    axes[1].set_yticks(range(len(names)))
    axes[1].set_yticklabels(names)
    axes[1].set_xlabel('mIoU points vs vanilla (paired, 95% bootstrap)')
    axes[1].set_title('Pooled over sources and seeds')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--scenario', default=DEFAULT)
    parser.add_argument('--scene-seed', type=int, default=0)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--iters', type=int, default=250)
    parser.add_argument('--lr', type=float, default=5e-4)
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'demo_out'))
    parser.add_argument(
        '--variants',
        nargs='+',
        help='run only these variants (vanilla is always run); e.g. '
        '`--variants vanilla` measures the curves alone')
    return parser.parse_args(argv)


def study_sources(truth: dict) -> list:
    """The best, the median and the worst source by their finetuned mIoU
    (fewer where the zoo has fewer)."""
    ranked = sorted(truth, key=truth.get, reverse=True)
    return list(
        dict.fromkeys([ranked[0], ranked[len(ranked) // 2], ranked[-1]]))


def finetune_options(iters: int, lr: float) -> dict:
    """The study's finetuning: ``iters`` at Adam ``lr``, validated (and
    checkpointed) every 25 iterations, at most 20 times in longer runs."""
    check_every = max(min(25, iters // 4), iters // 20, 1)
    return {
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': check_every,
        'default_hooks.checkpoint.interval': check_every,
        'optim_wrapper.optimizer.lr': lr
    }


def run_study(args) -> tuple:
    """Build the scenario's demo, finetune its study sources with every
    variant and seed (cached benchmark steps).

    Returns:
        tuple: ``(study_dir, truth, chosen, runs, curves)``: the demo's
        finetuned mIoU per source, the study sources, ``(source, variant,
        seed) -> best validation mIoU`` and per study source the vanilla
        validation curves (iteration -> mIoU in points), one per seed.
    """
    import mmseg_trf  # noqa: F401
    from mmseg_trf.benchmark import BenchmarkRunner, BenchmarkSpec, miou_curve
    from mmseg_trf.demo import DemoBuilder, Scenario
    name = osp.splitext(osp.basename(args.scenario))[0]
    demo_dir = osp.join(args.out_dir, f'{name}-seed{args.scene_seed}')
    spec = BenchmarkSpec.from_file(
        DemoBuilder(
            Scenario.from_file(args.scenario), demo_dir,
            args.scene_seed).build())
    spec.weighted.sources, spec.scoring.pixel_sweep = 'none', []
    demo = BenchmarkRunner(spec, osp.join(demo_dir, 'benchmark')).run()
    truth = demo['truth']['target']
    chosen = study_sources(truth)
    print(f'[weighting] sources {chosen} (mIoU '
          f'{[round(truth[c], 3) for c in chosen]})')
    spec.finetune.options = finetune_options(args.iters, args.lr)
    study_dir = osp.join(demo_dir, f'weighting_study-{args.iters}it')
    runner = BenchmarkRunner(
        spec, study_dir, echo=lambda line: print('   ', line))
    sources = {s.name: s for s in spec.sources}
    target = spec.targets[0]
    run_variants = [
        v for v in variants(target_class_weights(spec), args.iters) if
        v.name == 'vanilla' or args.variants is None or v.name in args.variants
    ]
    calls = [(sources[c], target, demo['checkpoints'][c], seed, v)
             for v in run_variants for c in chosen for seed in args.seeds]
    results = runner.parallel(runner.finetune, calls)
    if runner.failures:
        raise SystemExit(f'failed runs: {sorted(runner.failures)}; rerun '
                         'to retry')
    runs = {
        (c[0].name, c[4].name, c[3]): r['miou']
        for c, r in zip(calls, results)
    }
    curves = {
        c: [
            {  # iteration -> validation mIoU in points
                step: 100 * miou
                for step, miou in miou_curve(
                    runner.path('finetune', target.name, c, 'vanilla',
                                f'seed{s}'))
            } for s in args.seeds
        ]
        for c in chosen
    }
    return study_dir, truth, chosen, runs, curves


def plateau_gains(curves: dict, iters: int) -> dict:
    """Per source, the best validation's gain in the last quarter of the
    budget over the first three quarters, mean over its curves (points)."""
    last_quarter = iters * 3 // 4
    return {
        c:
        float(
            np.mean([
                max(v for k, v in curve.items() if k > last_quarter) -
                max(v for k, v in curve.items() if k <= last_quarter)
                for curve in runs_of
            ]))
        for c, runs_of in curves.items()
    }


def command_line(args) -> str:
    """The command that reproduces the study."""
    return (
        f'python benchmarks/bench_weighting.py --scenario '
        f'{osp.relpath(args.scenario, ROOT)} --scene-seed {args.scene_seed} '
        f'--seeds {" ".join(map(str, args.seeds))} --iters {args.iters} '
        f'--lr {args.lr}' +
        (f' --variants {" ".join(args.variants)}' if args.variants else ''))


def report(args, truth: dict, chosen: list, runs: dict, curves: dict) -> tuple:
    """The study's markdown report and JSON summary from its runs (as
    :func:`run_study` returns them): every variant against vanilla, the
    best weighting against its own map shuffled, the plateau and the
    seed-to-seed noise of vanilla.

    Returns:
        tuple: ``(text, data)``: the report, and the summary (its
        ``table``: per variant compared, in the order run, the paired
        differences to vanilla).
    """
    data = summary(args, chosen, runs, curves)
    return report_text(args, truth, chosen, runs, data), data


def summary(args, chosen: list, runs: dict, curves: dict) -> dict:
    """Every variant's paired differences to vanilla, the best weighting
    against its own map shuffled, the plateau and the runs and curves."""
    names = [v for v in dict.fromkeys(v for _, v, _ in runs) if v != 'vanilla']
    weighted = [v for v in names if v.startswith('trf')]
    table = {
        v: differences(runs, v, 'vanilla', chosen, max(1, len(weighted)))
        for v in names
    }
    best = max(
        weighted, key=lambda v: table[v]['pooled']['mean'], default=None)
    # the best weighting against its own map shuffled: the pooled OTCE
    # map's across locations, the per-image map's within each image
    shuffled = ('control-per-image-shuffled'
                if best and 'per-image' in best else 'control-shuffled')
    return dict(
        runs={
            '|'.join(map(str, k)): v
            for k, v in runs.items()
        },
        table=table,
        best=best,
        shuffled=shuffled,
        versus_shuffled=(differences(runs, best, shuffled, chosen)
                         if best and shuffled in names else None),
        plateau=plateau_gains(curves, args.iters),
        curves={
            c: [{
                str(k): v
                for k, v in curve.items()
            } for curve in runs_of]
            for c, runs_of in curves.items()
        })


def report_text(args, truth: dict, chosen: list, runs: dict,
                data: dict) -> str:
    """The markdown report of a :func:`summary`."""
    table, best = data['table'], data['best']
    weighted = [v for v in table if v.startswith('trf')]
    noise = float(
        np.mean([
            np.std([runs[(c, 'vanilla', s)] for s in args.seeds]) * 100
            for c in chosen
        ]))
    lines = [
        '# Transferability-weighted finetuning: paired study', '',
        f'`{command_line(args)}`', '',
        'Sources (best, median, worst of the zoo): ' +
        ', '.join(f'{c} ({100 * truth[c]:.1f})' for c in chosen) +
        f'. Adam lr {args.lr}, {args.iters} iterations, best '
        'validation mIoU kept. Cells: mean paired difference to vanilla in '
        'mIoU points (same source and seed) [95% bootstrap interval] (pairs);'
        f' the last column widens the pooled interval for the '
        f'{len(weighted)} weightings compared (Bonferroni).', '',
        '| variant | ' + ' | '.join(chosen) + ' | pooled | pooled, adjusted |',
        '|---|' + '---|' * (len(chosen) + 2)
    ]
    for v in table:
        lines.append(f'| {v} | ' + ' | '.join(
            cell(table[v][c]) for c in chosen + ['pooled', 'adjusted']) + ' |')
    if data['versus_shuffled']:
        lines += [
            '', f'Best weighting: **{best}**, {cell(table[best]["pooled"])} '
            f'vs vanilla; vs {data["shuffled"]} '
            f'{cell(data["versus_shuffled"]["pooled"])}.'
        ]
    lines += [
        '',
        'Plateau: vanilla best-validation gain in the last quarter of the '
        'budget over the first three quarters, mean over seeds (points): ' +
        ', '.join(f'{c} {g:+.2f}' for c, g in data['plateau'].items()) +
        f'; seed-to-seed std of vanilla: {noise:.2f} points.',
        '',
        'Vanilla mIoU per source (mean over seeds): ' + ', '.join(
            f'{c} {100 * np.mean([runs[(c, "vanilla", s)] for s in args.seeds]):.2f}'  # noqa: E501
            for c in chosen)
    ]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    study_dir, truth, chosen, runs, curves = run_study(args)
    text, data = report(args, truth, chosen, runs, curves)
    with open(osp.join(study_dir, 'weighting_study.md'), 'w') as f:
        f.write(text)
    with open(osp.join(study_dir, 'weighting_study.json'), 'w') as f:
        json.dump(data, f, indent=1)
    figure(curves, data['table'], list(data['table']),
           osp.join(study_dir, 'weighting_study.png'))
    print(text)
    print(f'[weighting] {study_dir}; wall time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()

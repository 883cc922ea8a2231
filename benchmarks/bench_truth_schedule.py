"""A decayed learning rate as a cheaper converged truth: every source of
stored study runs finetuned with the study's learning rate decayed
linearly to zero (MMEngine's ``PolyLR``, power 1) over a budget, against
the study's constant-rate truths and the much longer probe truth.

    python benchmarks/bench_truth_schedule.py --runs night_target-seed2
        [rain_target-seed0 ...] [--iters 1000 3000] [--out-dir demo_out]
        [--docs]

Each run must have a probe (``bench_selection.py --probe-truth``, in
``docs/data/truth_probe/``) and its sources in ``<out-dir>`` (the demo's
cache: nothing is retrained); the decayed runs are cached steps of that
run's benchmark, so the script resumes where it stopped. Each run's
decayed truths are kept in ``docs/data/truth_schedule/<run>.json``; the
report (the plateau rule on the decayed curves, and how each truth ranks
against the probe's) is printed, and written to
``docs/en/truth_schedule.md`` with ``--docs``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import bench_selection as study  # noqa: E402

#: Where each run's decayed truths are kept.
SCHEDULES = osp.join(study.ROOT, 'docs', 'data', 'truth_schedule')
DOCS_REPORT = osp.join(study.ROOT, 'docs', 'en', 'truth_schedule.md')


def decayed_variant(iters: int):
    """Vanilla finetuning for ``iters`` iterations, the learning rate
    decayed linearly from the protocol's to zero (MMSeg's usual
    ``PolyLR``), as ``--cfg-options`` of the run config."""
    from mmseg_trf.benchmark import FinetuneVariant
    scheduler = dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=0,
        end=iters,
        by_epoch=False)
    options = {f'param_scheduler.{k}': v for k, v in scheduler.items()}
    return FinetuneVariant(
        f'poly{iters}',
        options={
            'train_cfg.max_iters': iters,
            'param_scheduler._delete_': True,
            **options
        })


def decayed_truth(runner, checkpoints: dict, iters: int) -> dict:
    """Every source finetuned from its checkpoint with each finetuning seed
    and :func:`decayed_variant` (see ``bench_selection.grid_truth``)."""
    spec = runner.spec
    target, = spec.targets
    calls = [(source, target, checkpoints[source.name], seed,
              decayed_variant(iters)) for source in spec.sources
             for seed in spec.finetune.seeds]
    runs = runner.parallel(runner.finetune, calls)
    study.stop_on_failures(runner)
    return study.grid_truth(calls, runs, iters)


def run_schedules(run: str, probe: dict, budgets: list, out_dir: str) -> dict:
    """A run's decayed truths at ``budgets`` (budget -> truth), from the
    sources in ``out_dir``, which must be the probe's (``probe``: its
    stored record)."""
    scenario, seed = run.rsplit('-seed', 1)
    path = osp.join(study.ROOT, 'configs', 'demo', f'scenario_{scenario}.yaml')
    runner = study.scenario_runner(path, int(seed), out_dir)
    results = study.run_scenario(runner)
    gap = study.truth_gap(probe, study.run_record(results))
    if gap:
        raise SystemExit(
            f'{run}: the truth in {out_dir} '
            f"{study.gap_words(gap, 'the probe')}: not its sources")
    checkpoints = results['checkpoints']
    return {
        str(iters): decayed_truth(runner, checkpoints, iters)
        for iters in budgets
    }


def truth_row(name: str,
              truth: dict,
              seconds: float,
              probe: dict,
              curves=None) -> str:
    """One truth against the probe's: Spearman, its best source's regret
    there, the mean level, and (for decayed truths) the plateau rule and
    the seeds' agreement."""
    from mmseg_trf.evaluation import plateau, seed_agreement
    rho, pick, best = study.truth_agreement(truth, probe)
    level = 100 * np.mean(list(truth.values()))
    cells = [
        name, f'{seconds:.0f}', f'{rho:.3f}', 'yes' if pick == best else
        f'no ({study.top1_regret(probe, pick):.1f})', f'{level:.1f}'
    ]
    if curves is None:
        cells += ['', '']
    else:
        verdict = plateau(curves)
        budget = min(c[-1][0] for runs in curves.values() for c in runs)
        cells += [
            f'{sum(verdict.plateaued.values())}/{len(verdict.plateaued)}'
            f" ({'yes' if verdict.converged else 'no'})",
            f'{seed_agreement(curves, budget):.3f}'
        ]
    return '| ' + ' | '.join(cells) + ' |'


def run_lines(run: str, probe: dict, schedules: dict) -> list:
    """A run's table: the constant-rate truths read off the probe's curves
    (which continue the study's) and the decayed ones, each against the
    probe's truth."""
    from mmseg_trf.evaluation import truth_at
    final = probe['truth']
    seconds = np.mean(list(probe['finetune_seconds'].values()))
    lines = [
        f'### {run}', '',
        f"Against the constant rate's {probe['budget']}-iteration truth "
        f"(the probe; its mean level {100 * np.mean(list(final.values())):.1f}"
        f', {seconds:.0f} s per source and seed):', '',
        '| truth | seconds per source and seed | Spearman | same best '
        '(its regret, points) | mean level | plateaued sources (converged) '
        '| seeds agree |', '|---|---|---|---|---|---|---|'
    ]
    per_iter = seconds / probe['budget']
    for budget in sorted({1000, 3000, *map(int, schedules)}):
        if budget < probe['budget']:
            lines.append(
                truth_row(f'constant, {budget} it',
                          truth_at(probe['curves'], budget), per_iter * budget,
                          final))
        if str(budget) in schedules:
            decayed = schedules[str(budget)]
            lines.append(
                truth_row(f'decayed to 0, {budget} it', decayed['truth'],
                          np.mean(list(decayed['finetune_seconds'].values())),
                          final, decayed['curves']))
    return lines + ['']


def report_lines(reports: dict) -> list:
    """The whole report (``reports``: run -> (probe, schedules))."""
    command = ' '.join(['python benchmarks/bench_truth_schedule.py'] +
                       sys.argv[1:])
    lines = [
        '# A decayed learning rate as a cheaper converged truth', '',
        f'Written by `{command}`', '',
        'Every source finetuned again from its checkpoint at the study\'s '
        'learning rate decayed linearly to zero over the budget (MMEngine '
        '`PolyLR`, power 1), with the run\'s finetuning seeds; the '
        'constant-rate truths are read off the probe\'s curves. Each is '
        'judged against the constant rate\'s much longer probe truth. The '
        'plateau rule (the report\'s) on a decayed run compares a last '
        'quarter at a small learning rate: passing it says the schedule '
        'ended, not that a longer one would gain nothing; the Spearman '
        'against the probe says the latter. The constant rows\' seconds are '
        'the probe\'s time per iteration times the budget. One draw per run.',
        ''
    ]
    for run, (probe, schedules) in reports.items():
        lines += run_lines(run, probe, schedules)
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', nargs='+', required=True)
    parser.add_argument('--iters', nargs='+', type=int, default=[1000, 3000])
    parser.add_argument('--out-dir', default=osp.join(study.ROOT, 'demo_out'))
    parser.add_argument(
        '--docs',
        action='store_true',
        help=f'write the report to {osp.relpath(DOCS_REPORT, study.ROOT)}')
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.time()
    reports = {}
    for run in args.runs:
        probe_path = osp.join(study.PROBES, f'{run}.json')
        if not osp.isfile(probe_path):
            raise SystemExit(f'{run}: no probe in {study.PROBES}; run '
                             'bench_selection.py --probe-truth first')
        with open(probe_path) as f:
            stored_probe = json.load(f)
        probe = study.longer_records({run: stored_probe})[run]
        stored = osp.join(SCHEDULES, f'{run}.json')
        schedules = {}
        if osp.isfile(stored):
            with open(stored) as f:
                schedules = json.load(f)
        todo = [i for i in args.iters if str(i) not in schedules]
        if todo:
            print(f'[schedule] {run}: decayed to {todo} iterations '
                  f'({time.time() - start:.0f} s so far)')
            schedules.update(
                run_schedules(run, stored_probe, todo, args.out_dir))
            os.makedirs(SCHEDULES, exist_ok=True)
            with open(stored, 'w') as f:
                json.dump(schedules, f)
        reports[run] = probe, schedules
    text = '\n'.join(report_lines(reports)) + '\n'
    if args.docs:
        with open(DOCS_REPORT, 'w') as f:
            f.write(text)
    print(text)
    print(f'[schedule] wall time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()

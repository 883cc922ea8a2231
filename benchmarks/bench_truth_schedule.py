"""Cheaper converged truths: every source of stored study runs finetuned
again under other protocols (a budget, a learning rate, constant or decayed
linearly to zero by MMEngine's ``PolyLR``), against the study's
constant-rate truths and the much longer probe truth.

    python benchmarks/bench_truth_schedule.py --runs night_target-seed2
        [rain_target-seed0 ...] [--protocols poly:1000 constant:3000:3e-3]
        [--out-dir demo_out] [--docs]

A protocol is ``SCHEDULE:ITERS[:LR]`` (``constant`` or ``poly``; the
scenario's learning rate unless given). Each run must have a probe
(``bench_selection.py --probe-truth``, in ``docs/data/truth_probe/``) and
its sources in ``<out-dir>`` (the demo's cache: nothing is retrained, and
the rebuilt truth must be the probe's); the runs are cached steps of that
run's benchmark, so the script resumes where it stopped. Each run's truths
are kept in ``docs/data/truth_schedule/<run>.json`` as each protocol
finishes; the report (how each truth stored for the runs, those of earlier
calls too, ranks against the probe's, and the plateau rule on the new
curves) is printed, and written to
``docs/en/truth_schedule.md`` with ``--docs``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks.selection_study import (  # noqa: E402 isort: skip
    analysis, parts)
from benchmarks.selection_study.protocol import (  # noqa: E402 isort: skip
    PROBES, ROOT, scenario_config)

#: Where each run's truths under other protocols are kept.
STORED = osp.join(ROOT, 'docs', 'data', 'truth_schedule')
#: The learning-rate schedules a protocol may name, in words.
SCHEDULES = dict(constant='constant', poly='decayed to 0')
DOCS_REPORT = osp.join(ROOT, 'docs', 'en', 'truth_schedule.md')


def parse_protocol(text: str) -> tuple:
    """A finetuning protocol, ``SCHEDULE:ITERS[:LR]`` (``constant`` or
    ``poly``, the budget, and a learning rate other than the scenario's),
    as ``(schedule, iters, lr)``, ``lr`` the text given or ``None``."""
    schedule, iters, *lr = text.split(':')
    if schedule not in SCHEDULES or not iters.isdigit() or len(lr) > 1:
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected SCHEDULE:ITERS[:LR], SCHEDULE one of '
            f'{", ".join(SCHEDULES)}')
    if lr:
        float(lr[0])  # a ValueError is argparse's "invalid protocol value"
    return schedule, int(iters), lr[0] if lr else None


def protocol(text: str) -> str:
    """A protocol's text, checked by :func:`parse_protocol` (an argparse
    type: the text is the key its truths are stored under)."""
    parse_protocol(text)
    return text


def protocol_variant(text: str):
    """Vanilla finetuning under a protocol, as ``--cfg-options`` of the run
    config; ``poly`` decays the learning rate linearly to zero over the
    budget (MMSeg's usual ``PolyLR``)."""
    from mmseg_trf.benchmark import FinetuneVariant
    schedule, iters, lr = parse_protocol(text)
    options = {'train_cfg.max_iters': iters}
    if lr:
        options['optim_wrapper.optimizer.lr'] = float(lr)
    if schedule == 'poly':
        scheduler = dict(
            type='PolyLR',
            eta_min=0.0,
            power=1.0,
            begin=0,
            end=iters,
            by_epoch=False)
        options['param_scheduler._delete_'] = True
        options.update({
            f'param_scheduler.{k}': v
            for k, v in scheduler.items()
        })
    name = f'{schedule}{iters}' + (f'-lr{lr}' if lr else '')
    return FinetuneVariant(name, options=options)


def protocol_truth(runner, checkpoints: dict, text: str) -> dict:
    """Every source finetuned from its checkpoint with each finetuning seed
    under a protocol (see ``selection_study.parts.grid_truth``)."""
    spec = runner.spec
    target, = spec.targets
    variant = protocol_variant(text)
    calls = [(source, target, checkpoints[source.name], seed, variant)
             for source in spec.sources for seed in spec.finetune.seeds]
    runs = runner.parallel(runner.finetune, calls)
    parts.stop_on_failures(runner)
    return parts.grid_truth(calls, runs, parse_protocol(text)[1])


def run_protocols(run: str, probe: dict, protocols: list, out_dir: str):
    """A run's truths under ``protocols``, yielded as ``(protocol,
    truth)`` as each finishes, from the sources in ``out_dir``, which must
    be the probe's (``probe``: its stored record)."""
    scenario, seed = run.rsplit('-seed', 1)
    runner = parts.scenario_runner(
        scenario_config(scenario), int(seed), out_dir)
    results = parts.run_scenario(runner)
    gap = parts.truth_gap(probe, parts.run_record(results))
    if gap:
        raise SystemExit(
            f'{run}: the truth in {out_dir} '
            f"{parts.gap_words(gap, 'the probe')}: not its sources")
    for text in protocols:
        yield text, protocol_truth(runner, results['checkpoints'], text)


def protocol_label(text: str) -> str:
    """A protocol in words, for the report."""
    schedule, iters, lr = parse_protocol(text)
    label = f'{SCHEDULES[schedule]}, {iters} it'
    return label + (f', lr {lr}' if lr else '')


def truth_row(name: str,
              truth: dict,
              iters: int,
              probe: dict,
              curves=None) -> str:
    """One truth, ``iters`` iterations per source and seed, against the
    probe's: Spearman, its best source's regret there, the mean level, and
    (for a truth finetuned again) the plateau rule and the seeds'
    agreement."""
    from mmseg_trf.evaluation import plateau, seed_agreement
    rho, pick, best = analysis.truth_agreement(truth, probe)
    level = 100 * np.mean(list(truth.values()))
    cells = [
        name, f'{iters}', f'{rho:.3f}', 'yes' if pick == best else
        f'no ({analysis.top1_regret(probe, pick):.1f})', f'{level:.1f}'
    ]
    if curves is None:
        cells += ['', '']
    else:
        verdict = plateau(curves)
        cells += [
            f'{sum(verdict.plateaued.values())}/{len(verdict.plateaued)}'
            f" ({'yes' if verdict.converged else 'no'})",
            f'{seed_agreement(curves, iters):.3f}'
        ]
    return '| ' + ' | '.join(cells) + ' |'


def run_lines(run: str, probe: dict, truths: dict) -> list:
    """A run's table: the constant-rate truths at 1,000 and 3,000
    iterations read off the probe's curves (which continue the study's),
    then the truths under other protocols (``truths``: protocol -> truth),
    each against the probe's truth."""
    from mmseg_trf.evaluation import truth_at
    final = probe['truth']
    lines = [
        f'### {run}', '',
        f"Against the constant rate's {probe['budget']}-iteration truth "
        f"(the probe; its mean level {100 * np.mean(list(final.values())):.1f}"
        '):', '',
        '| truth | iterations per source and seed | Spearman | same best '
        '(its regret, points) | mean level | plateaued sources (converged) '
        '| seeds agree |', '|---|---|---|---|---|---|---|'
    ]
    lines += [
        truth_row(f'constant, {budget} it (the study\'s)',
                  truth_at(probe['curves'], budget), budget, final)
        for budget in (1000, 3000)
    ]
    lines += [
        truth_row(
            protocol_label(text), truth['truth'], truth['budget'], final,
            truth['curves']) for text, truth in truths.items()
    ]
    return lines + ['']


def report_lines(reports: dict) -> list:
    """The whole report (``reports``: run -> (probe, truths))."""
    command = ' '.join(['python benchmarks/bench_truth_schedule.py'] +
                       sys.argv[1:])
    lines = [
        '# Cheaper converged truths: learning-rate schedules and rates', '',
        f'Written by `{command}`', '',
        'Every source finetuned again from its checkpoint under another '
        'protocol (a budget, a learning rate, constant or decayed linearly '
        'to zero over the budget by MMEngine\'s `PolyLR`), with the run\'s '
        'finetuning seeds; the study\'s constant-rate truths are read off '
        'the probe\'s curves. Each is judged against the much longer probe '
        'truth (constant rate). On a decayed run the plateau rule compares '
        'a last quarter at a small learning rate: passing it says the '
        'schedule ended, not that a longer one would gain nothing; the '
        'Spearman against the probe says that. An iteration costs the same '
        'under every protocol. One draw per run.', ''
    ]
    for run, (probe, truths) in reports.items():
        lines += run_lines(run, probe, truths)
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', nargs='+', required=True)
    parser.add_argument(
        '--protocols',
        nargs='+',
        type=protocol,
        default=['poly:1000', 'poly:3000'],
        help='SCHEDULE:ITERS[:LR]: constant or poly (decayed to zero), the '
        'budget, and a learning rate other than the scenario\'s')
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'demo_out'))
    parser.add_argument(
        '--docs',
        action='store_true',
        help=f'write the report to {osp.relpath(DOCS_REPORT, ROOT)}')
    return parser.parse_args()


def store_truths(run: str, truths: dict) -> None:
    """Keep a run's truths under other protocols (protocol -> truth)."""
    os.makedirs(STORED, exist_ok=True)
    with open(osp.join(STORED, f'{run}.json'), 'w') as f:
        json.dump(truths, f)


def stored_truths(run: str) -> dict:
    """A run's stored truths under other protocols (protocol -> truth)."""
    path = osp.join(STORED, f'{run}.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def main():
    args = parse_args()
    start = time.time()
    reports = {}
    for run in args.runs:
        probe_path = osp.join(PROBES, f'{run}.json')
        if not osp.isfile(probe_path):
            raise SystemExit(f'{run}: no probe in {PROBES}; run '
                             'bench_selection.py --probe-truth first')
        with open(probe_path) as f:
            stored_probe = json.load(f)
        truths = stored_truths(run)
        todo = [p for p in args.protocols if p not in truths]
        if todo:
            print(f'[schedule] {run}: {todo} '
                  f'({time.time() - start:.0f} s so far)')
            for text, truth in run_protocols(run, stored_probe, todo,
                                             args.out_dir):
                truths[text] = truth
                store_truths(run, truths)
        reports[run] = analysis.longer_records({run:
                                                stored_probe})[run], truths
    text = '\n'.join(report_lines(reports)) + '\n'
    if args.docs:
        with open(DOCS_REPORT, 'w') as f:
            f.write(text)
    print(text)
    print(f'[schedule] wall time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()

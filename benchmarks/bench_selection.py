"""Which source-selection method to trust, judged on scenarios it was not
chosen on, against a ground truth at convergence, and what a finetuning
budget buys on top of it.

    python benchmarks/bench_selection.py [--scenarios A.yaml ...]
        [--seeds 0 1] [--out-dir demo_out] [--only SCENARIO-SEED ...]
        [--continue-truth ITERS] [--add-finetune-seeds SEED ...]
        [--probe-truth ITERS] [--without SCENARIO-SEED ...] [--docs]

Each (scenario, seed) is the demo's benchmark (sources trained, finetuned
to a plateau for the ground truth with their learning curves, finetuned
with the old short protocol as a named proxy, scored; no weighted
finetuning), run in ``<out-dir>/<scenario>-seed<S>`` with the demo's cache:
every step is cached, so the study resumes where it stopped and a rerun
only reprints (``--only`` runs some parts, e.g. one per session; a
finished part's record is kept in ``docs/data/selection_study/``, so the
report covers parts run elsewhere; ``--only none`` only reports;
``--without`` leaves stored parts out, to see what a part moved). Writes
``<out-dir>/selection_study.{md,json}`` and its figures (with ``--docs``
the report and figures go to ``docs/en/selection_report.md`` and
``docs/figures/``, the ones the docs show):

* the plateau rule per run (:func:`mmseg_trf.evaluation.plateau`) and the
  agreement of the short-budget truth with the long-budget one;
* where parts were run with ``--continue-truth``, the truth at that longer
  budget (each truth run continued from its last checkpoint): its plateau
  rule, its agreement with the study's truth, every method against both
  and regret against cost on the longer budget; with two or more such
  scenarios, the metric and the search design chosen leave-one-scenario-out
  among them against the longer truth alone (``selection_study_cost_longer
  .png``);
* where parts were run with ``--probe-truth``, a much longer truth kept
  apart (``docs/data/truth_probe/``, never pooled into the study): how
  the truths at the study's budgets rank against it and whether it passes
  the plateau rule;
* every metric, fusion and prior per scenario, and the default chosen by
  leave-one-scenario-out (:func:`mmseg_trf.evaluation.leave_one_group_out`):
  chosen on the other scenarios, reported on the one left out;
* regret against cost (finetuning iterations and wall time as a fraction
  of finetuning every source fully) for the metrics, short finetunes of
  every source, metric-seeded successive halving and finetuning everything
  (simulated on the learning curves: with a constant learning rate a run
  stopped at ``b`` iterations is the long run up to ``b``).
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks.selection_study import (  # noqa: E402 isort: skip
    analysis, parts, protocol, report)


def parse_args() -> argparse.Namespace:
    """The study's command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--scenarios', nargs='+', default=protocol.SCENARIOS)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    parser.add_argument(
        '--out-dir', default=osp.join(protocol.ROOT, 'demo_out'))
    parser.add_argument(
        '--only',
        nargs='+',
        help='run only these parts (e.g. six_arch-seed0); the report uses '
        'every part already finished')
    parser.add_argument(
        '--without',
        nargs='+',
        default=[],
        metavar='RUN',
        help='leave these stored parts out (e.g. the last one added: what '
        'it moved is the difference between the reports with and without '
        'it)')
    parser.add_argument(
        '--continue-truth',
        type=int,
        metavar='ITERS',
        help='continue the ground-truth runs of the parts run to ITERS '
        'iterations: a check of the truth at a longer budget')
    parser.add_argument(
        '--add-finetune-seeds',
        nargs='+',
        type=int,
        metavar='SEED',
        help='pool these finetuning seeds into the stored records of the '
        'parts run (a less noisy truth at every budget the record holds); '
        'their sources must reproduce the record\'s')
    parser.add_argument(
        '--probe-truth',
        type=int,
        metavar='ITERS',
        help='continue the ground-truth runs of the parts run (with --only) '
        'to ITERS iterations and keep that record apart, in '
        'docs/data/truth_probe/: a check of the study\'s truths against a '
        'much longer one, not pooled into the study')
    parser.add_argument(
        '--rung-scores',
        nargs='+',
        choices=protocol.DESIGN_SCORES,
        default=list(protocol.DESIGN_SCORES),
        help='compare only these kinds of search design (best: the 36 '
        'designs fixed first; level: the 36 ranked by level, added later; '
        'gain: the 36 scaled by past gains, added next; kept and '
        'gain-kept: best and gain with the metric\'s pick kept from every '
        'rung, added last)')
    parser.add_argument(
        '--docs',
        action='store_true',
        help='write the report to docs/en/selection_report.md and its '
        'figures to docs/figures/ (the ones the docs show) instead of '
        '--out-dir (the JSON summary and the history stay there)')
    args = parser.parse_args()
    if set(args.without) & set(args.only or ()):
        parser.error('a part cannot be both run (--only) and left out '
                     '(--without)')
    if all(protocol.DESIGN_KINDS[kind][1] for kind in args.rung_scores):
        parser.error('--rung-scores needs best, level or kept too: the '
                     'tools\' design is chosen among those select_source.py '
                     'runs without a history')
    return args


def main():
    args = parse_args()
    start = time.time()
    records, metrics = parts.study_records(args, start)
    study = analysis.analyse(records, metrics, args.rung_scores)
    longer = analysis.longer_records(records)
    longer_study = analysis.analyse(longer, metrics, args.rung_scores) if len(
        set(map(analysis.scenario_of, longer))) > 1 else dict(loso={})
    paths = report.report_paths(args.out_dir, args.docs)
    report_md, costs_png, longer_costs_png = paths
    text = report.report_text(records, longer, parts.stored_probes(records),
                              metrics, study, longer_study, paths)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(report_md, 'w') as f:
        f.write('\n'.join(text) + '\n')
    report.write_summary(
        osp.join(args.out_dir, 'selection_study.json'), study, longer_study)
    analysis.write_history(records,
                           osp.join(args.out_dir, 'architecture_history.yaml'))
    report.figure(study['costs'], costs_png)
    if longer_study['loso']:
        report.figure(longer_study['costs'], longer_costs_png,
                      'longer truth, left-out scenarios')
    print('\n'.join(text))
    print(f'[study] {report_md}; wall time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()

"""Pick a source for a target with a finetuning budget: rank by a metric,
then finetune the top candidates briefly and keep the better share until
one is left (metric-seeded successive halving).

    python tools/select_source.py SPEC.yaml --target aachen \
        --max-iters 10000 --min-iters 2000 [--width 2/3] [--metric nce]
        [--rung-score level] [--gain-history history.yaml --full-iters F]
        [--keep-first]
        [--work-dir DIR] [--executor slurm]

The defaults, the top two thirds by the metric with half kept per rung
(``--eta 2``), are the design the source-selection study chooses over its
scenarios by its rule (the lowest mean regret among the designs that cost
at most a quarter) when the tools' fusion seeds every run, against its
3,000-iteration truth (docs/en/source_selection.md), with the first rung
at a tenth and the last at half of a full budget F, i.e. ``--min-iters
F/10 --max-iters F/2``; every regret judged by a finetuning seed the
search did not run on. ``auto`` keeps the sources
holding 90% of the probability of being best; the study's regret-cost table
shows how each width fares.

SPEC is a benchmark spec (``configs/benchmark/*.yaml``: sources with their
configs, checkpoints, training data and finetuning configs; targets; the
scoring protocol). Sources without a checkpoint are trained first. Every
step (training, scoring, each rung of each source's finetuning) is a
cached runner step with a progress line, shared with ``tools/benchmark.py``
in the same work dir; a rung goes on from the previous rung's checkpoint.
Writes ``<work-dir>/selection/<target>.{json,md}``.

``--gain-history`` (a history of past targets, as ``score_sources.py
--architecture-history`` takes, whose entries also carry each run's
``curve``, or ``curves``, one per finetuning seed) scales each rung's
score by its source's family's median gain from the rung to a full budget
of ``--full-iters`` on those curves, so that a family that starts slowly
and ends high is not dropped at the first rung (each source names its
``architecture`` in the spec).
"""
import argparse
import json
import os
import os.path as osp
from fractions import Fraction

import mmseg_trf  # noqa: F401
from mmseg_trf.apis.scoring import read_gain_history
from mmseg_trf.benchmark import BenchmarkRunner, BenchmarkSpec, budgeted_search
from mmseg_trf.benchmark.search import (DEFAULT_ETA, DEFAULT_RUNGS,
                                        DEFAULT_WIDTH)
from mmseg_trf.evaluation import RUNG_SCORES


def width_arg(value: str):
    """``auto``, a number of sources, or a share of them (``2/3``)."""
    if value == 'auto':
        return value
    if '/' in value or '.' in value:
        share = Fraction(value)
        if not 0 < share <= 1:
            raise argparse.ArgumentTypeError(
                f'a share of the sources is in (0, 1]; got {value}')
        return share
    count = int(value)
    if count < 1:
        raise argparse.ArgumentTypeError(
            f'a number of sources is at least 1; got {value}')
    return count


#: What a rung's cells are, per --rung-score.
SCORE_NAMES = dict(
    best='best validation mIoU', level='mean validation mIoU, second half')

#: The summary's caveat when the rungs were not scaled by past gains.
UNSCALED = (
    'Rungs compared as the sources start: without `--gain-history`, a '
    'family that starts slowly and ends high can be dropped at an early '
    'rung (the study\'s weak spot, docs/en/source_selection.md). '
    '`tools/benchmark.py` on past targets writes the history that scales '
    'each rung to the full budget (`report/history.yaml`).')


def summary(found: dict, max_iters: int) -> str:
    scaled = (f", scaled by past gains to {found['scaled']} iterations"
              if found['scaled'] else '')
    kept = ('; the metric\'s pick kept to the last rung'
            if found['keep_first'] else '')
    lines = [
        f"# Source selection for a budget ({found['metric']} first, top "
        f"{found['width']} searched)", '',
        f"**Pick: {found['pick']}**; {found['iterations']} finetuning "
        f"iterations ({100 * found['cost']:.1f}% of finetuning all "
        f"{len(found['order'])} sources for {max_iters}), "
        f"{found['seconds']:.0f} s of finetuning{kept}.", '',
        f"| rung (iterations; {SCORE_NAMES[found['score']]}{scaled}) | " +
        ' | '.join(found['order'][:found['width']]) + ' |',
        '|---|' + '---|' * found['width']
    ]
    for rung in found['rungs']:
        lines.append(f"| {rung['iters']} | " + ' | '.join(
            f"{100 * rung['score'][n]:.2f}" if n in rung['score'] else '-'
            for n in found['order'][:found['width']]) + ' |')
    lines += ['', 'Metric order: ' + ', '.join(found['order'])]
    if found['rungs'] and not found['scaled']:
        lines += ['', UNSCALED]
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('spec', help='benchmark spec (YAML)')
    parser.add_argument(
        '--target', help='target name (default: the spec\'s first)')
    parser.add_argument(
        '--metric',
        help='ordering metric (default: the spec\'s first, or "fusion + '
        'architecture" when it scores fusion with an architecture_history)')
    add_search_arguments(parser)
    add_gain_arguments(parser)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--work-dir', help='default: work_dirs/benchmark/<spec name>')
    parser.add_argument('--executor', choices=['local', 'slurm'])
    args = parser.parse_args(argv)
    if bool(args.gain_history) != bool(args.full_iters):
        parser.error('--gain-history and --full-iters go together')
    if not 0 < args.min_iters <= args.max_iters:
        parser.error('need 0 < --min-iters <= --max-iters; got '
                     f'{args.min_iters} and {args.max_iters}')
    if args.eta < 2:
        parser.error(f'--eta is at least 2; got {args.eta}')
    return args


def add_search_arguments(parser):
    """The successive halving: its rungs, its width and how it compares."""
    parser.add_argument(
        '--max-iters',
        type=int,
        required=True,
        help='the budget no rung goes past; the search ends sooner once '
        'one candidate is left (the study\'s design: '
        f'{DEFAULT_RUNGS[1]} of a full finetuning budget)')
    parser.add_argument(
        '--min-iters',
        type=int,
        required=True,
        help='the first rung\'s budget (the study\'s design: '
        f'{DEFAULT_RUNGS[0]} of a full finetuning budget)')
    parser.add_argument(
        '--width',
        type=width_arg,
        default=DEFAULT_WIDTH,
        help='candidates searched: a number, a share of the sources by the '
        f'metric (default {DEFAULT_WIDTH}), or auto: the fewest top '
        'sources holding 90%% of the probability of being best over the '
        'repetitions')
    parser.add_argument(
        '--eta',
        type=int,
        default=DEFAULT_ETA,
        help=f'1/eta of each rung continues (default {DEFAULT_ETA})')
    parser.add_argument(
        '--rung-score',
        choices=list(RUNG_SCORES),
        default='best',
        help='how a rung compares its candidates: the best validation so '
        'far, or level: the mean validation of the rung\'s second half '
        '(less favour to a noisy run; default best)')
    parser.add_argument(
        '--keep-first',
        action='store_true',
        help='the metric\'s pick continues from every rung, so that a '
        'rival replaces it only by beating it at a later rung')


def add_gain_arguments(parser):
    """Past targets' curves that scale each rung to the full budget."""
    parser.add_argument(
        '--gain-history',
        help='past targets\' finetuning curves ({target: [{architecture, '
        'miou, curve: [[iters, miou], ...]}, ...]}; or curves, a list of '
        'such curves): scale each rung by its family\'s expected gain to '
        '--full-iters')
    parser.add_argument(
        '--full-iters',
        type=int,
        help='the full finetuning budget the gains extrapolate to (with '
        '--gain-history)')


def main():
    args = parse_args()
    gains = read_gain_history(args.gain_history) if args.gain_history \
        else None
    spec = BenchmarkSpec.from_file(args.spec)
    spec.executor = args.executor or spec.executor
    target = args.target or spec.targets[0].name
    metric = args.metric or spec.scoring.ranking
    if metric not in spec.scoring.metrics + [spec.scoring.ranking]:
        raise SystemExit(f'--metric {metric!r} is not scored by the spec; '
                         f'its metrics: {spec.scoring.metrics}')
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'benchmark',
        osp.splitext(osp.basename(args.spec))[0])
    found = budgeted_search(
        BenchmarkRunner(spec, work_dir), target, metric, args.min_iters,
        args.max_iters, args.width, args.eta, args.seed, args.rung_score,
        gains, args.full_iters, args.keep_first)
    out = osp.join(work_dir, 'selection')
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, f'{target}.json'), 'w') as f:
        json.dump(found, f, indent=1)
    text = summary(found, args.max_iters)
    with open(osp.join(out, f'{target}.md'), 'w') as f:
        f.write(text)
    print(text)
    print(f'selection: {osp.join(out, target)}.md')


if __name__ == '__main__':
    main()

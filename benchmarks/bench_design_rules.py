"""How steady each rule that chooses the search design is, on the selection
study's committed records: the tools' design (fusion-zscore seeding every
run, the designs that need no history) chosen by each rule of
``selection_study.analysis.choose_design`` on every run, how many runs
move it when left out alone, and how often it is chosen on resamples of
the scenarios.

    python benchmarks/bench_design_rules.py [--draws 1000] [--without RUN ...]

``--without`` leaves stored runs out first (e.g. the last one added, to see
what it moved). Reads ``docs/data/selection_study/``; a minute on 2 cores.
"""
import argparse
import glob
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks.selection_study import analysis, parts, protocol  # noqa: E402


def stored_records(without=()) -> dict:
    """The committed records (run -> record) but those of ``without``, read
    as the study reads them (``selection_study.parts.study_records``, in its
    order, which the resamples follow)."""
    seeds = sorted({
        int(osp.splitext(path)[0].rsplit('-seed', 1)[1])
        for path in glob.glob(osp.join(protocol.RECORDS, '*.json'))
    })
    args = argparse.Namespace(
        scenarios=protocol.SCENARIOS,
        seeds=seeds,
        only=['none'],
        without=list(without))
    return parts.study_records(args, start=0.0)[0]


def without(points: dict, run: str) -> dict:
    """``points`` (run -> value) but ``run``'s."""
    return {r: p for r, p in points.items() if r != run}


def rule_lines(points: dict, draws: int) -> list:
    """Per rule: the design chosen on every run, the runs whose leaving out
    moves it, and its share of ``draws`` scenario resamples."""
    lines = [
        '| rule | design on every run | runs that move it when left out '
        '| its share of the scenario resamples | designs chosen on them |',
        '|---|---|---|---|---|'
    ]
    for rule in protocol.DESIGN_RULES:
        chosen = analysis.choose_design(points, rule)
        movers = [
            run for run in points
            if analysis.choose_design(without(points, run), rule) != chosen
        ]
        shares = analysis.design_shares(points, rule, draws)
        name = rule + (" (the protocol's)"
                       if rule == protocol.PROTOCOL_RULE else '')
        lines.append(f'| {name} | {chosen.name} | {len(movers)} of '
                     f'{len(points)} ({", ".join(movers) or "none"}) | '
                     f'{shares.get(chosen, 0):.0%} | {len(shares)} |')
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--draws', type=int, default=1000)
    parser.add_argument('--without', nargs='+', default=[], metavar='RUN')
    args = parser.parse_args()
    records = analysis.longer_records(stored_records(args.without))
    points = analysis.tools_points(records, analysis.search_designs())
    print(f'{len(records)} runs (longer truth), '
          f'{len(next(iter(points.values())))} designs\n')
    print('\n'.join(rule_lines(points, args.draws)))


if __name__ == '__main__':
    main()

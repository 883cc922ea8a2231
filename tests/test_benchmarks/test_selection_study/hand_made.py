"""Hand-made records of the selection study, as its parts store them."""
import json
from pathlib import Path

from benchmarks.selection_study.protocol import RECORDS


def record(curves, budget=4, scores=(0.5, 0.2), own=(0.6, 0.3)):
    """A hand-made record: per source its curves (one per seed)."""
    names = list(curves)

    def mean_best(runs, iters=None):
        return sum(
            max(m for it, m in c if iters is None or it <= iters)
            for c in runs) / len(runs)

    return dict(
        ranking=dict(sources=[
            dict(
                name=n,
                extract_seconds=1.0,
                metrics=dict(nce=dict(mean=s, seconds=1.0, values=[s] * 2)))
            for n, s in zip(names, scores)
        ]),
        truth={
            n: mean_best(c)
            for n, c in curves.items()
        },
        proxies=dict(short={
            n: mean_best(c, 2)
            for n, c in curves.items()
        }),
        source_miou=dict(zip(names, own)),
        curves=curves,
        finetune_seconds={
            n: 10.0 * len(c)
            for n, c in curves.items()
        },
        budget=budget,
        machine=dict(cpu_capability='AVX512'))


def curve(*mious):
    return [[2 * (i + 1), m] for i, m in enumerate(mious)]


def committed_records(count=None) -> dict:
    """The study's committed records (the first ``count`` by name): run ->
    record."""
    records = {}
    for path in sorted(Path(RECORDS).glob('*.json'))[:count]:
        with open(path) as f:
            records[path.stem] = json.load(f)
    return records


def three_families(best, scores):
    """A hand-made run of an FCN-8s, an FRRN and a UNet: ``best`` ends on
    top, the other two below in that order; ``scores`` their NCE."""
    names = ['fcn8s_a', 'frrn_b', 'unet_c']
    ends = dict(zip([best] + [n for n in names if n != best], (0.5, 0.3, 0.1)))
    return record({n: [curve(0.05, ends[n])] for n in names}, scores=scores)

"""OTCE on the logits of many trained models: the exact sparse solver beside
POT's dense ``ot.emd`` on the same pixels, per feature set.

    python benchmarks/feature_zoo.py [--out-dir demo_out] [--pixels 10000]
        [--reps 3] [--sets SUBSTRING ...] [--against REV] [--list]
        [--export FILE.npz]

The zoo is every source model the demo's runs have trained under
``<out-dir>/scenario_*-seed*/`` (``make demo``, ``bench_selection.py``):
architectures (FCN-8s, SegNet, PSPNet, UNet, FRRN-A/B), tasks (19 classes,
7 categories, 6 classes, so 19-, 7- and 6-dimensional logits) and training
lengths differ. Per set, ``--pixels`` pixels per side are drawn ``--reps``
times (the scorer's uniform sampler, seed 0): the source model's logits on
its own training images (with their labels) and on the target's labelled
images. Features are extracted once and cached in
``<out-dir>/feature_zoo/`` (not committed); each solve's time and value is
kept there too (per pixel count and version of the solvers' code), so a
rerun only reports. Writes ``otce_zoo.md`` and
``.json`` there: per set, both solvers' time (mean and range over the
repetitions), their ratio and the largest difference between their OTCE
values (0 up to rounding when the optimum is unique). ``--against REV``
also times ``sparse_emd`` as it was at git revision ``REV`` on the same
pixels, in turn with today's within each repetition (a change to the
solver beside the code it replaces, in one run).
"""
import argparse
import contextlib
import glob
import hashlib
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from unittest import mock

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


def zoo_sets(out_dir: str) -> dict:
    """Set name -> (source spec, target dataset config, checkpoint) for
    every trained source of the demo runs under ``out_dir``."""
    from mmseg_trf.benchmark import BenchmarkSpec
    from mmseg_trf.benchmark.runs import latest_checkpoint
    sets = {}
    for run_dir in sorted(glob.glob(osp.join(out_dir, 'scenario_*-seed*'))):
        run = osp.basename(run_dir)
        spec = BenchmarkSpec.from_file(
            osp.join(run_dir, 'configs', 'benchmark.yaml'))
        trained = osp.join(run_dir, 'benchmark', 'sources')
        for source in spec.sources:
            checkpoint = latest_checkpoint(osp.join(trained, source.name))
            if checkpoint:
                sets[f'{run.replace("scenario_", "")}/{source.name}'] = (
                    source, spec.targets[0].dataset, checkpoint)
    return sets


def extract(name: str, entry: tuple, pixels: int, reps: int,
            folder: str) -> dict:
    """Both sides' sampled logits and labels of one set (cached)."""
    path = osp.join(folder, name.replace('/', '__') + f'-{pixels}x{reps}.npz')
    if osp.isfile(path):
        return dict(np.load(path))
    from mmseg_trf.apis import dataset_config, load_segmentor
    from mmseg_trf.pixels import ArrayCache, build_dataset, sampled_pixels
    from mmseg_trf.sampling import SamplingSettings
    source, target, checkpoint = entry
    model = load_segmentor(source.config, checkpoint).eval()
    sampling = SamplingSettings('uniform', pixels, reps, seed=0)
    cache = ArrayCache(osp.join(folder, 'cache'))
    sides = {}
    for role, cfg in (('source', source.dataset), ('target', target)):
        dataset = build_dataset(dataset_config(cfg))
        sides[role] = sampled_pixels(model, name, dataset, sampling, cache,
                                     role, 20)
    arrays = {
        f'{role}_{kind}_{rep}': getattr(side, method)(*args, rep)
        for role, side in sides.items()
        for rep in range(reps)
        for kind, method, args in (('logits', 'features', ('logits', )),
                                   ('labels', 'labels', ()))
    }
    np.savez(path, **arrays)
    return arrays


def revision_solver(rev: str) -> tuple:
    """The commit ``rev`` names (the cache key of its solves: a branch name
    moves) and ``sparse_emd`` as the solvers' module was there."""

    def git(*args):
        return subprocess.run(['git', *args],
                              cwd=ROOT,
                              check=True,
                              capture_output=True).stdout

    commit = git('rev-parse', '--short=12',
                 f'{rev}^{{commit}}').decode().strip()
    code = git('show', f'{commit}:mmseg_trf/metrics/optimal_transport.py')
    with tempfile.NamedTemporaryFile(suffix='.py') as f:
        f.write(code)
        f.flush()
        spec = importlib.util.spec_from_file_location(
            f'optimal_transport_{rev}', f.name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return commit, module.sparse_emd


def solve(arrays: dict, rep: int, solver: str, sparse=None) -> dict:
    """One OTCE solve, timed; ``sparse`` replaces ``sparse_emd``."""
    from mmseg_trf.metrics import otce
    module = sys.modules['mmseg_trf.metrics.otce']
    with (mock.patch.object(module, 'sparse_emd', sparse)
          if sparse else contextlib.nullcontext()):
        tic = time.perf_counter()
        value = otce(
            arrays[f'source_logits_{rep}'],
            arrays[f'source_labels_{rep}'],
            arrays[f'target_logits_{rep}'],
            arrays[f'target_labels_{rep}'],
            solver=solver)
    return dict(seconds=time.perf_counter() - tic, value=value)


def solver_version() -> str:
    """Digest of the solvers' code and POT's version: cached solves of
    other code are solved again."""
    import ot

    from mmseg_trf.metrics import optimal_transport
    with open(optimal_transport.__file__, 'rb') as f:
        code = f.read() + ot.__version__.encode()
    return hashlib.sha256(code).hexdigest()[:12]


def set_row(name: str,
            arrays: dict,
            pixels: int,
            reps: int,
            folder: str,
            against: tuple = None) -> dict:
    """Both solvers on every repetition of one set (each solve cached, per
    pixel count and :func:`solver_version`), and ``sparse_emd`` at the
    commit of ``against`` (``(commit, its sparse_emd)``) if given."""
    path = osp.join(
        folder,
        name.replace('/', '__') + f'-{pixels}-{solver_version()}-solves.json')
    done = json.load(open(path)) if osp.isfile(path) else {}
    # key in the cache -> (solver, the sparse_emd to use)
    runs = {'sparse_emd': ('sparse_emd', None)}
    if against:
        runs[f'sparse_emd@{against[0]}'] = ('sparse_emd', against[1])
    runs['emd'] = ('emd', None)
    for rep in range(reps):
        for key_solver, (solver, sparse) in runs.items():
            key = f'{key_solver}-{rep}'
            if key not in done:
                done[key] = solve(arrays, rep, solver, sparse)
                print(
                    f'[zoo] {name} rep {rep} {key_solver}: '
                    f'{done[key]["seconds"]:.1f} s',
                    flush=True)
                with open(path, 'w') as f:
                    json.dump(done, f)
    seconds = {
        s: np.array([done[f'{s}-{r}']['seconds'] for r in range(reps)])
        for s in runs
    }
    diff = max(
        abs(done[f'sparse_emd-{r}']['value'] - done[f'emd-{r}']['value'])
        for r in range(reps))
    row = dict(
        dim=int(arrays['source_logits_0'].shape[1]),
        classes=[
            int(len(np.unique(arrays[f'{side}_labels_0'])))
            for side in ('source', 'target')
        ],
        seconds={
            s: v.tolist()
            for s, v in seconds.items()
        },
        ratio=(seconds['emd'] / seconds['sparse_emd']).tolist(),
        max_value_diff=diff)
    if against:
        previous = f'sparse_emd@{against[0]}'
        row.update(
            against=against[0],
            against_ratio=(seconds[previous] / seconds['sparse_emd']).tolist(),
            against_value_diff=max(
                abs(done[f'sparse_emd-{r}']['value'] -
                    done[f'{previous}-{r}']['value']) for r in range(reps)))
    return row


def span(values) -> str:
    """Mean (lowest to highest)."""
    values = np.asarray(values)
    return f'{values.mean():.1f} ({values.min():.1f} to {values.max():.1f})'


def table(rows: dict) -> list:
    """Markdown table of :func:`set_row` rows."""
    against = next(iter(rows.values())).get('against')
    extra = (f' sparse_emd at {against} s | at {against} / now | '
             f'max abs OTCE difference to {against} |' if against else '')
    lines = [
        '| feature set | d | classes (source / target) | sparse_emd s | '
        'dense ot.emd s | dense / sparse | max abs OTCE difference |' + extra,
        '|---|---|---|---|---|---|---|' + '---|' * (3 if against else 0)
    ]
    for name, row in rows.items():
        line = (f"| {name} | {row['dim']} | {row['classes'][0]} / "
                f"{row['classes'][1]} | {span(row['seconds']['sparse_emd'])} "
                f"| {span(row['seconds']['emd'])} | {span(row['ratio'])} | "
                f"{row['max_value_diff']:.1e} |")
        if against:
            line += (f" {span(row['seconds'][f'sparse_emd@{against}'])} | "
                     f"{span(row['against_ratio'])} | "
                     f"{row['against_value_diff']:.1e} |")
        lines.append(line)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'demo_out'))
    parser.add_argument('--pixels', type=int, default=10000)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument(
        '--sets', nargs='+', help='only sets whose name holds one of these')
    parser.add_argument(
        '--against',
        metavar='REV',
        help='also time sparse_emd as it was at this git revision')
    parser.add_argument(
        '--list', action='store_true', help='list the sets and stop')
    parser.add_argument(
        '--export',
        help='write the sets\' first repetition to this .npz and stop (the '
        'tests\' trained-logit fixture)')
    args = parser.parse_args()
    import torch

    import mmseg_trf  # noqa: F401
    sets = zoo_sets(args.out_dir)
    if args.sets:
        sets = {
            k: v
            for k, v in sets.items() if any(s in k for s in args.sets)
        }
    if args.list or not sets:
        print('\n'.join(sets) or f'no trained sources under {args.out_dir}: '
              'run make demo or benchmarks/bench_selection.py first')
        return
    folder = osp.join(args.out_dir, 'feature_zoo')
    os.makedirs(folder, exist_ok=True)
    if args.export:
        np.savez_compressed(
            args.export, **{
                f'{name}:{key}': value
                for name, entry in sets.items()
                for key, value in extract(name, entry, args.pixels, 1,
                                          folder).items()
            })
        return
    torch.set_num_threads(2)
    against = args.against and revision_solver(args.against)
    rows = {
        name:
        set_row(name, extract(name, entry, args.pixels, args.reps, folder),
                args.pixels, args.reps, folder, against)
        for name, entry in sets.items()
    }
    command = (f'`python benchmarks/feature_zoo.py --pixels {args.pixels} '
               f'--reps {args.reps}' +
               (f' --sets {" ".join(args.sets)}' if args.sets else '') +
               (f' --against {args.against}' if args.against else '') + '`')
    text = [
        f'# OTCE on trained logits: N = {args.pixels} per side, '
        f'{args.reps} repetitions', '', command, '', *table(rows)
    ]
    with open(osp.join(folder, 'otce_zoo.md'), 'w') as f:
        f.write('\n'.join(text) + '\n')
    with open(osp.join(folder, 'otce_zoo.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    print('\n'.join(text))


if __name__ == '__main__':
    main()

"""Benchmark of the transferability metrics at the seed papers' sizes.

    python benchmarks/bench_metrics.py [--quick] [--device cuda] [--out FILE]

Prints Markdown tables: each metric's time and peak memory beside a
straightforward implementation and the hardware floor (one float64 Gram
product plus one d x d eigendecomposition, measured in the same run); OTCE
at N = 2,000 / 5,000 / 10,000 pixels per side against the seed code's exact
EMD plus N x N index arrays; and the streaming accumulators over
1024 x 512 x 10 = 5,242,880 pixels. Every case runs in a fresh process so
its peak memory (maximum resident set above the level before the call) is
its own. ``--quick`` skips the 10,000-pixel baseline and shortens the run.
``--device cuda`` runs the project's metrics, the floor and the streaming
accumulators on tensors on the GPU (peak: ``torch.cuda`` allocator peak;
the straightforward implementations stay numpy on the CPU) and leaves out
the OTCE table (exact OT solves on the CPU).
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLASSES = 19
PIXELS = 15000
STREAM_PIXELS = 1024 * 512 * 10
STREAM_BATCH = 1024 * 512


def pixel_features(n, dim, seed, shift=0.0):
    """Logit-like float32 pixel features: class means plus noise, scaled so
    the median squared distance between pixels is a few hundred, as for the
    seed's 19-dimensional logits."""
    rng = np.random.default_rng(seed)
    proportions = rng.dirichlet(np.full(CLASSES, 0.7))
    labels = rng.choice(CLASSES, n, p=proportions)
    means = rng.normal(0, 2.0, (CLASSES, dim))
    noise = rng.normal(0, 3.0 * np.sqrt(19 / dim), (n, dim))
    return (means[labels] + noise + shift).astype(np.float32), labels


def softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def current_rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def target_case(case):
    """Build ``(function, args)`` for a target-side case."""
    sys.path.insert(0, ROOT)
    import torch

    import mmseg_trf.metrics as metrics
    from benchmarks import straightforward
    from tests.test_metrics import reference

    x, y = pixel_features(case['n'], case['d'], seed=0)
    name, impl = case['metric'], case['impl']
    device = case.get('device', 'cpu')
    if impl == 'floor':
        xt = torch.from_numpy(x).to(device)

        def floor():
            f = xt.double()
            return float(torch.linalg.eigh(f.T @ f)[0][-1])

        return floor, ()
    probs = softmax(x)
    if impl == 'ours':
        spec = metrics.METRICS[name]
        data = (probs, y) if spec.inputs == metrics.SOURCE_PROBS else (x, y)
        return spec.fn, on_device(data, device)
    return {
        'hscore': (reference.hscore, (x, y)),
        'logme': (straightforward.logme_original, (x, y)),
        'leep': (straightforward.leep_numpy, (probs, y)),
        'nce': (straightforward.nce_numpy, (probs, y)),
        'gbc': (reference.gbc_diagonal, (x, y)),
        'transrate': (reference.transrate, (x, y)),
    }[name]


def on_device(arrays, device):
    """numpy arrays as they are on the CPU, else tensors on ``device``."""
    import torch
    if device == 'cpu':
        return arrays
    return tuple(torch.from_numpy(a).to(device) for a in arrays)


def otce_case(case):
    sys.path.insert(0, ROOT)
    import mmseg_trf.metrics as metrics
    from benchmarks import straightforward

    xs, ys = pixel_features(case['n'], 19, seed=1)
    xt, yt = pixel_features(case['n'], 19, seed=2, shift=1.0)
    if case['impl'] == 'seed':
        return straightforward.otce_seed, (xs, ys, xt, yt)
    return (lambda *a: metrics.otce(*a, solver=case['impl'])), (xs, ys, xt, yt)


def stream_case(case):
    """All pixels of ten 1024 x 512 images through an accumulator, generated
    batch by batch so that memory is bounded by one batch."""
    sys.path.insert(0, ROOT)
    import mmseg_trf.metrics as metrics

    spec = metrics.METRICS[case['metric']]
    batches = STREAM_PIXELS // STREAM_BATCH

    def run():
        acc = spec.accumulator()
        for _ in range(acc.passes):
            for b in range(batches):
                x, y = pixel_features(STREAM_BATCH, 19, seed=100 + b)
                acc.update(*on_device((
                    softmax(x) if spec.inputs == metrics.SOURCE_PROBS else x,
                    y), case.get('device', 'cpu')))
            acc.next_pass()
        return acc.compute()

    return run, ()


def build(case):
    """``(function, args)`` of a case."""
    return {
        'target': target_case,
        'otce': otce_case,
        'stream': stream_case
    }[case['kind']](
        case)


def worker(job):
    """Measure in this process and print the result as JSON.

    ``job['mode'] == 'memory'``: one cold call of one case; its peak is the
    maximum resident set above the level just before the call.
    ``job['mode'] == 'time'``: all cases called in turn, ``repeats`` rounds
    after a warm-up, so that they share the allocator's and the caches'
    state; the best time of each is returned (the least disturbed run).
    """
    import torch
    torch.set_num_threads(os.cpu_count())
    cases = job['cases']
    calls = [build(case) for case in cases]
    if job['mode'] == 'memory':
        fn, args = calls[0]
        if cases[0].get('device', 'cpu') == 'cuda':
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated() / 2**20
            value = fn(*args)
            peak = torch.cuda.max_memory_allocated() / 2**20 - before
        else:
            before = current_rss_mb()
            value = fn(*args)
            peak = peak_rss_mb() - before
        print(json.dumps(dict(peak_mb=max(peak, 0.0), value=float(value))))
        return
    times = [[] for _ in calls]
    for round_ in range(job['repeats'] + 1):
        for slot, (fn, args) in enumerate(calls):
            start = time.perf_counter()
            fn(*args)
            if round_ or job['repeats'] == 0:
                times[slot].append(time.perf_counter() - start)
    print(json.dumps([min(t) for t in times]))


def run_worker(job):
    out = subprocess.run(
        [sys.executable, __file__, '--worker',
         json.dumps(job)],
        capture_output=True,
        text=True,
        cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f'{job} failed:\n{out.stderr}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(*cases, repeats=0):
    """Time ``cases`` side by side and measure each one's memory alone.

    Returns:
        list[dict]: ``seconds``, ``peak_mb`` and ``value`` per case.
    """
    seconds = run_worker(dict(mode='time', cases=list(cases), repeats=repeats))
    return [
        dict(run_worker(dict(mode='memory', cases=[case])), seconds=t)
        for case, t in zip(cases, seconds)
    ]


def fmt_time(seconds):
    return f'{seconds * 1e3:.2f} ms' if seconds < 1 else f'{seconds:.2f} s'


def target_table(quick, device):
    repeats = 5 if quick else 20
    lines = [
        '| metric | pixels x dims | mmseg-trf | peak | straightforward '
        '| peak | floor | mmseg-trf / floor |', '|' + '---|' * 8
    ]
    rows = [(m, PIXELS, d) for d in (19, 512)
            for m in ('hscore', 'logme', 'regularized_hscore', 'gbc',
                      'transrate', 'leep', 'nce')] + [('logme', 1000, 19),
                                                      ('logme', 1000, 512),
                                                      ('nleep', PIXELS, 19)]
    with_reference = ('hscore', 'logme', 'leep', 'nce', 'gbc', 'transrate')
    for metric, n, dim in rows:
        impls = ['floor', 'ours'
                 ] + (['reference'] if metric in with_reference else [])
        slow = metric == 'nleep'
        results = measure(
            *[
                dict(
                    kind='target',
                    metric=metric,
                    impl=impl,
                    n=n,
                    d=dim,
                    device=device) for impl in impls
            ],
            repeats=1 if slow else repeats)
        floor, ours = results[:2]
        ref_cells = (f'{fmt_time(results[2]["seconds"])} | '
                     f'{results[2]["peak_mb"]:.0f} MB'
                     if len(results) > 2 else '- | -')
        lines.append(
            f'| {metric} | {n:,} x {dim} | {fmt_time(ours["seconds"])} | '
            f'{ours["peak_mb"]:.0f} MB | {ref_cells} | '
            f'{fmt_time(floor["seconds"])} | '
            f'{ours["seconds"] / floor["seconds"]:.2f}x |')
        print(lines[-1], flush=True)
    return lines


def otce_table(quick):
    lines = [
        '| N per side | sparse_emd (default) | peak | OTCE | seed code: '
        'exact EMD + index arrays | peak | OTCE | abs. difference | '
        'speed-up |', '|' + '---|' * 9
    ]
    for n in (2000, 5000, 10000):
        ours, = measure(dict(kind='otce', impl='sparse_emd', n=n))
        if quick and n == 10000:
            seed = None
        else:
            seed, = measure(dict(kind='otce', impl='seed', n=n))
        seed_cells = (f'{fmt_time(seed["seconds"])} | {seed["peak_mb"]:.0f} MB'
                      f' | {seed["value"]:.6f} | '
                      f'{abs(seed["value"] - ours["value"]):.1e} | '
                      f'{seed["seconds"] / ours["seconds"]:.1f}x'
                      if seed else 'skipped (--quick) | | | |')
        lines.append(f'| {n:,} | {fmt_time(ours["seconds"])} | '
                     f'{ours["peak_mb"]:.0f} MB | {ours["value"]:.6f} | '
                     f'{seed_cells} |')
        print(lines[-1], flush=True)
    return lines


def stream_table(device):
    lines = [
        '| metric | pixels | passes | time | peak |', '|---|---|---|---|---|'
    ]
    for metric in ('hscore', 'logme', 'nce', 'leep'):
        res, = measure(dict(kind='stream', metric=metric, device=device))
        passes = 2 if metric == 'leep' else 1
        lines.append(f'| {metric} | {STREAM_PIXELS:,} | {passes} | '
                     f'{fmt_time(res["seconds"])} | {res["peak_mb"]:.0f} MB |')
        print(lines[-1], flush=True)
    return lines


def torch_device_name():
    import torch
    return torch.cuda.get_device_name(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help='fewer repeats, no 10,000-pixel EMD baseline')
    parser.add_argument(
        '--device',
        default='cpu',
        choices=('cpu', 'cuda'),
        help='where the project\'s metrics compute (cuda: no OTCE table)')
    parser.add_argument('--out', help='also write the tables to this file')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    where = (f'{os.cpu_count()} CPU cores'
             if args.device == 'cpu' else f'metrics on {torch_device_name()}')
    header = (f'# Metric benchmark ({where}; times are the '
              'best of repeated interleaved runs, one run for OTCE and '
              'streaming; streaming times include generating the data)\n')
    print(header)
    sections = [('## Target-side metrics (19 classes)',
                 target_table(args.quick, args.device))]
    if args.device == 'cpu':
        sections.append(
            ('## OTCE, d = 19, 19 classes', otce_table(args.quick)))
    sections.append(
        ('## Streaming over all pixels (d = 19)', stream_table(args.device)))
    text = header + '\n'.join(f'\n{title}\n\n' + '\n'.join(lines)
                              for title, lines in sections) + '\n'
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    print(text)


if __name__ == '__main__':
    main()

"""The study's parts: one (scenario, seed) run of the demo's benchmark,
its record (stored in :data:`~.protocol.RECORDS`), a longer truth
continued from it and finetuning seeds added to it."""
import json
import math
import os
import os.path as osp
import time
from typing import Optional

import numpy as np

from .analysis import longer_records, seeds_of
from .protocol import PROBES, RECORDS


def scenario_runner(path: str,
                    seed: int,
                    out_dir: str,
                    finetune_seeds: Optional[list] = None):
    """The demo's benchmark runner for one scenario and seed (its steps
    cached in the run's work dir), finetuning with the scenario's seeds or
    ``finetune_seeds``."""
    from mmseg_trf.benchmark import BenchmarkRunner, BenchmarkSpec
    from mmseg_trf.demo import DemoBuilder, Scenario
    work_dir = run_dir(path, seed, out_dir)
    spec = BenchmarkSpec.from_file(
        DemoBuilder(Scenario.from_file(path), work_dir, seed).build())
    if finetune_seeds:
        spec.finetune.seeds = list(finetune_seeds)
    spec.weighted.sources = 'none'
    spec.scoring.pixel_sweep = []
    return BenchmarkRunner(
        spec,
        osp.join(work_dir, 'benchmark'),
        echo=lambda line: print('   ', line))


def run_scenario(runner) -> dict:
    """Every step of a scenario's benchmark (cached)."""
    results = runner.run()
    stop_on_failures(runner)
    return results


def stop_on_failures(runner) -> None:
    if runner.failures:
        raise SystemExit(f'{runner.work_dir}: steps failed: '
                         f'{sorted(runner.failures)}; rerun to retry')


def continue_truth(runner, checkpoints: dict, record: dict,
                   iters: int) -> dict:
    """Every ground-truth run continued from its last checkpoint to
    ``iters`` iterations (the same constant learning rate, so the same run
    made longer; the data order restarts at the resume): the truth at a
    longer budget, to check the plateau and the ranking against.

    Returns:
        dict: ``budget``, ``curves`` (per source, one per seed), ``truth``
        (mean over seeds of the best mIoU) and ``finetune_seconds`` (mean
        over seeds, the first budget's run included).
    """
    from mmseg_trf.benchmark import FinetuneVariant
    spec = runner.spec
    target, = spec.targets
    calls = [(source, target, checkpoints[source.name], seed,
              FinetuneVariant('continued'), iters,
              runner.path('finetune', target.name, source.name, 'vanilla',
                          f'seed{seed}')) for source in spec.sources
             for seed in spec.finetune.seeds]
    runs = runner.parallel(runner.finetune, calls)
    stop_on_failures(runner)
    return grid_truth(calls, runs, iters, record['finetune_seconds'])


def grid_truth(calls: list,
               runs: list,
               iters: int,
               seconds_before: Optional[dict] = None) -> dict:
    """The truth of finetuning runs, one per ``(source, ...)`` call.

    Returns:
        dict: ``budget``, ``curves`` (per source, one per seed), ``truth``
        (mean over seeds of the best mIoU) and ``finetune_seconds`` (mean
        over seeds, plus ``seconds_before``'s where given: the run a
        continuation went on from).
    """
    per_source = {}
    for call, run in zip(calls, runs):
        per_source.setdefault(call[0].name, []).append(run)
    before = seconds_before or {}
    return dict(
        budget=iters,
        curves={
            n: [r['curve'] for r in done]
            for n, done in per_source.items()
        },
        truth={
            n: float(np.mean([r['miou'] for r in done]))
            for n, done in per_source.items()
        },
        finetune_seconds={
            n:
            before.get(n, 0.0) + float(np.mean([r['seconds'] for r in done]))
            for n, done in per_source.items()
        })


def finetune_seeds_of(record: dict, scenario_seeds: list) -> list:
    """The finetuning seeds behind a record's truth: the scenario's, or
    more where seeds were added (:func:`with_added_seeds`)."""
    return record.get('finetune_seeds', list(scenario_seeds))


def check_same_sources(before: dict, added: dict) -> None:
    """Raise unless two records of a run hold the same trained sources:
    the same names, own-data mIoU and metric scores (a rebuild on another
    machine kind trains other weights, whose seeds cannot be pooled)."""

    def scores(record):
        return {
            (s['name'], m): v['mean']
            for s in record['ranking']['sources']
            for m, v in s['metrics'].items()
        }

    check_same_values('sources\' own mIoU',
                      before['source_miou'], added['source_miou'],
                      before.get('machine'), added['machine'])
    check_same_values('metric scores', scores(before), scores(added),
                      before.get('machine'), added['machine'])


def check_same_values(what: str, old: dict, new: dict, old_machine,
                      new_machine) -> None:
    """Raise, naming the first keys that differ, unless ``old`` and ``new``
    hold the same keys with values equal to a relative 1e-6."""
    differ = [
        k for k in old.keys() | new.keys() if k not in old or k not in new
        or not np.isclose(old[k], new[k], rtol=1e-6, atol=0, equal_nan=True)
    ]
    if differ:
        raise SystemExit(
            f'the rebuilt sources are not the record\'s ({what} differ on '
            f'{sorted(map(str, differ))[:3]}...; record made on '
            f'{old_machine}, this one {new_machine}): seeds can only be '
            'added where the sources reproduce')


def check_sources_first(runner, before: dict) -> None:
    """Train (or read from the cache) a rebuilt run's sources and check
    their own mIoU against the record's before any target finetuning, so
    that a run that cannot be pooled stops in minutes, not after its
    finetuning (:func:`check_same_sources` checks the scores after)."""
    runner.parallel(runner.source_checkpoint,
                    [(s, ) for s in runner.spec.sources])
    stop_on_failures(runner)
    check_same_values('sources\' own mIoU', before['source_miou'],
                      runner.source_mious(), before.get('machine'), machine())


def with_added_seeds(before: dict, added: dict, seeds: list) -> dict:
    """A record with more finetuning seeds: ``added`` (the same sources,
    checked, finetuned with other seeds) pooled into ``before``. Curves
    are appended; every mean (truth, proxies, finetune seconds, at each
    budget) is the mean over all seeds. The ranking and the machine stay
    ``before``'s (the analysis takes the truth from ``truth``).

    Args:
        before (dict): The stored record.
        added (dict): The same run's record with only the added seeds.
        seeds (list[int]): The finetuning seeds of both, in curve order.

    Returns:
        dict: The pooled record, ``finetune_seeds`` set to ``seeds``.
    """
    check_same_sources(before, added)

    def budgets(record):
        return record['budget'], record.get('continued', {}).get('budget')

    if budgets(before) != budgets(added):
        raise SystemExit('the added seeds were run to other budgets than '
                         'the record (pass the same --continue-truth)')
    n_before, n_added = seeds_of(before), seeds_of(added)
    if n_before + n_added != len(seeds):
        raise ValueError(f'{len(seeds)} seeds named for {n_before} + '
                         f'{n_added} curves per source')

    def pooled_mean(old, new):
        return {
            s: (n_before * old[s] + n_added * new[s]) / (n_before + n_added)
            for s in old
        }

    def pooled(old, new):
        out = dict(
            old,
            curves={
                s: old['curves'][s] + new['curves'][s]
                for s in old['curves']
            })
        for key in ('truth', 'finetune_seconds'):
            out[key] = pooled_mean(old[key], new[key])
        return out

    record = pooled(before, added)
    record['proxies'] = {
        name: pooled_mean(truth, added['proxies'][name])
        for name, truth in before['proxies'].items()
    }
    if 'continued' in before:
        record['continued'] = pooled(before['continued'], added['continued'])
    record['finetune_seeds'] = list(seeds)
    return record


def run_dir(path: str, seed: int, out_dir: str) -> str:
    """The demo's work dir of a scenario and seed (shared with it)."""
    return osp.join(out_dir,
                    f'{osp.splitext(osp.basename(path))[0]}-seed{seed}')


def scenario_name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0].replace('scenario_', '')


def run_record(results: dict) -> dict:
    """What the analysis needs from one run, JSON-ready."""
    (target, scored), = results['scores'].items()
    curves, seconds = {}, {}
    for (t, source, variant), runs in results['finetunes'].items():
        if t == target and variant == 'vanilla':
            curves[source] = [r['curve'] for r in runs]
            budget = max(it for it, _ in runs[0]['curve'])
            seconds[source] = float(np.mean([r['seconds'] for r in runs]))
    return dict(
        ranking=scored['ranking'],
        truth=results['truth'][target],
        proxies={
            name: truth[target]
            for name, truth in results['proxy_truth'].items()
        },
        source_miou=results['source_miou'],
        curves=curves,
        finetune_seconds=seconds,
        budget=budget,
        machine=machine())


def machine() -> dict:
    """What a record was made on: trained weights, and so every truth, may
    differ with the CPU's kernels and the threads per job. The kernels'
    instruction set alone does not tell machines apart (an AVX512 record,
    six_arch-seed0, did not rebuild on another AVX512 machine), so the CPU
    model is kept too."""
    import torch
    return dict(
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        cpu=cpu_model(),
        cores=os.cpu_count(),
        torch=torch.__version__)


def cpu_model() -> str:
    """The CPU's name with its family and model numbers (which tell its
    generation where a virtual machine's name does not), from
    ``/proc/cpuinfo``; ``platform.processor()`` elsewhere."""
    import platform
    try:
        with open('/proc/cpuinfo') as f:
            fields = dict(
                line.split(':', 1)
                for line in f.read().split('\n\n')[0].splitlines()
                if ':' in line)
    except OSError:
        return platform.processor()
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    return '{} (family {}, model {})'.format(
        fields.get('model name', platform.processor()),
        fields.get('cpu family', '?'), fields.get('model', '?'))


def truth_gap(before: dict, after: dict) -> float:
    """Largest difference, in mIoU, between a stored record's truth and a
    rebuilt one's; infinite when their sources differ (nothing to compare,
    and the record must not crash the run that replaces it)."""
    if set(before['truth']) != set(after['truth']):
        return float('inf')
    return max(
        abs(before['truth'][s] - after['truth'][s]) for s in before['truth'])


def gap_words(gap: float, record: str) -> str:
    """How a rebuilt truth departs from ``record`` (``gap``: a nonzero
    :func:`truth_gap`)."""
    if math.isinf(gap):
        return f'covers other sources than {record}'
    return f'differs by up to {100 * gap:.1f} points from {record}'


def reproduction_line(run: str,
                      gap: float,
                      before: dict,
                      after: dict,
                      probe: bool = False) -> str:
    """Whether a rebuilt run's truth reproduces the stored record's, and
    what becomes of the record (a ``probe`` leaves it as it is)."""
    if gap == 0:
        return f'[study] {run}: the rebuilt truth reproduces the record'
    fate = ('the probe is kept apart and the record stays' if probe else
            'the record, and any longer truth it held, is replaced')
    return (f'[study] {run}: the rebuilt truth {gap_words(gap, "the record")} '
            '(record made on '
            f"{before.get('machine', 'an unrecorded machine')}, this one "
            f"{after['machine']}); {fate}")


def run_part(path: str,
             seed: int,
             args,
             before: Optional[dict],
             iters: Optional[int] = None) -> dict:
    """One (scenario, seed) part's record, its truth continued to
    ``iters`` where given (a probe, ``--probe-truth``: the stored record
    stays) or else to ``args.continue_truth`` where set; ``before`` is its
    stored record, whose longer truth is kept when the rebuild reproduces
    it."""
    run = f'{scenario_name(path)}-seed{seed}'
    runner = scenario_runner(path, seed, args.out_dir)
    results = run_scenario(runner)
    record = run_record(results)
    gap = None
    if before is not None:
        gap = truth_gap(before, record)
        print(reproduction_line(run, gap, before, record, iters is not None))
    iters = iters or args.continue_truth
    if iters:
        print(f'[study] {run}: the truth continued to {iters} iterations')
        record['continued'] = continue_truth(runner, results['checkpoints'],
                                             record, iters)
    elif gap == 0 and 'continued' in before:  # a check run before
        record['continued'] = before['continued']
    return record


def add_seeds_part(path: str, seed: int, args, before: Optional[dict]) -> dict:
    """A stored part's record with ``args.add_finetune_seeds`` pooled into
    its truth (:func:`with_added_seeds`): its sources rebuilt (they must
    reproduce the record's) and finetuned with the added seeds only."""
    from mmseg_trf.demo import Scenario
    run = f'{scenario_name(path)}-seed{seed}'
    if before is None:
        raise SystemExit(f'{run}: no stored record to add seeds to')
    have = finetune_seeds_of(before, Scenario.from_file(path).finetune.seeds)
    if set(have) & set(args.add_finetune_seeds):
        raise SystemExit(f'{run}: the record already has seeds {have}')
    runner = scenario_runner(path, seed, args.out_dir, args.add_finetune_seeds)
    check_sources_first(runner, before)
    results = run_scenario(runner)
    added = run_record(results)
    check_same_sources(before, added)
    print(f'[study] {run}: the sources reproduce the record; finetuning '
          f'seeds {args.add_finetune_seeds} added to {have}')
    if 'continued' in before:
        added['continued'] = continue_truth(runner, results['checkpoints'],
                                            added,
                                            before['continued']['budget'])
    return with_added_seeds(before, added,
                            have + list(args.add_finetune_seeds))


def study_records(args, start: float) -> tuple:
    """Every part's record (the parts of ``args.only`` run, or all of
    them; the others read from :data:`RECORDS` where stored), each part run
    stored there as it finishes, and the metrics the scenarios score.

    Returns:
        tuple: ``(records, metrics)``: run -> record, and a list.
    """
    import mmseg_trf  # noqa: F401
    from mmseg_trf.apis.report import FUSION
    from mmseg_trf.demo import Scenario
    records, metrics = {}, {}
    for path in args.scenarios:
        name = scenario_name(path)
        # the study fuses the metrics itself (FUSED, both rules)
        metrics.update(
            dict.fromkeys(
                m for m in Scenario.from_file(path).scoring['metrics']
                if m != FUSION))
        for seed in args.seeds:
            run = f'{name}-seed{seed}'
            if run in args.without:
                continue
            # the finished part's record, kept in the repository too
            stored = osp.join(RECORDS, f'{run}.json')
            if args.only and run not in args.only:
                if osp.isfile(stored):
                    with open(stored) as f:
                        records[run] = json.load(f)
                continue
            print(f'[study] {run} ({time.time() - start:.0f} s so far)')
            before = None
            if osp.isfile(stored):
                with open(stored) as f:
                    before = json.load(f)
            if args.probe_truth:
                store(PROBES, run,
                      run_part(path, seed, args, before, args.probe_truth))
                if before is not None:
                    records[run] = before
                continue
            if args.add_finetune_seeds:
                records[run] = add_seeds_part(path, seed, args, before)
            else:
                records[run] = run_part(path, seed, args, before)
            store(RECORDS, run, records[run])
    return records, list(metrics)


def stored_probes(runs) -> dict:
    """The much longer truths kept for some of ``runs``
    (``--probe-truth``), each as a record with that truth in place."""
    probes = {}
    for run in runs:
        path = osp.join(PROBES, f'{run}.json')
        if osp.isfile(path):
            with open(path) as f:
                probes[run] = longer_records({run: json.load(f)})[run]
    return probes


def store(folder: str, run: str, record: dict) -> None:
    """Keep a part's record as ``<folder>/<run>.json``."""
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, f'{run}.json'), 'w') as f:
        json.dump(record, f)

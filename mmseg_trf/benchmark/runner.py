"""Run a benchmark grid step by step, every step cached.

Steps (each a subprocess of the package's tools, logged to its own file):

1. train each source without a checkpoint (``tools/train.py``);
2. finetune every source on every target, once per seed (the ground
   truth: best validation mIoU, averaged over seeds);
3. score every source for every target (``tools/score_sources.py``), and
   again for each N of the pixel sweep (the feature cache is shared, so
   models run once);
4. transferability-weighted finetuning of the selected sources.

A finished step leaves ``steps/<key>.json``; a rerun skips it, and an
interrupted training run resumes from its last checkpoint. A failed step is
reported and the steps that do not depend on it go on.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional

import yaml

from ..fileio import atomic_write_text
from ..pixels.cache import cache_key
from ..utils.yaml_files import read_yaml
from .executor import STATES, LocalExecutor, SlurmExecutor
from .fingerprint import checkpoint_fingerprint, config_fingerprint
from .runs import (best_miou, copy_run, last_checkpoint, latest_checkpoint,
                   miou_curve, resume_or_set_aside)
from .spec import (BenchmarkSource, BenchmarkSpec, BenchmarkTarget,
                   FinetuneVariant)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DISTRIBUTED_TOOLS = ('train.py', 'score_sources.py')


def _options(options: Dict) -> List[str]:
    return [f'{k}={v}' for k, v in options.items()]


class BenchmarkRunner:
    """Runs a :class:`BenchmarkSpec` in ``work_dir``.

    Args:
        spec (BenchmarkSpec): The grid.
        work_dir (str): Where everything goes.
        echo (callable): Progress lines go here.
    """

    def __init__(self,
                 spec: BenchmarkSpec,
                 work_dir: str,
                 echo: Callable[[str], None] = print) -> None:
        self.spec, self.echo = spec, echo
        self.work_dir = osp.abspath(work_dir)
        self.failures: Dict[str, str] = {}
        self.grid: Dict[str, dict] = {}
        self._grid_lock = threading.Lock()
        if spec.executor == 'slurm':
            self.executor = SlurmExecutor(spec.slurm, spec.gpus, self.progress,
                                          echo)
        else:
            self.executor = LocalExecutor(spec.gpus, spec.jobs, self.progress)

    # Plumbing ----------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return osp.join(self.work_dir, *parts)

    def progress(self,
                 key: str,
                 state: str,
                 log: str,
                 echo: bool = True) -> None:
        """Record a step's state ('queued', 'running', 'done', 'failed')
        and its log in ``status.json``; echo the grid's counts."""
        with self._grid_lock:
            if self.grid.get(key, {}).get('state') == state:
                return
            self.grid[key] = dict(state=state, log=log)
            atomic_write_text(
                self.path('status.json'), json.dumps(self.grid, indent=1))
            counts = Counter(step['state'] for step in self.grid.values())
        if echo:
            self.echo('[benchmark] grid: ' + ', '.join(f'{counts[s]} {s}'
                                                       for s in STATES) +
                      f' ({key} {state}: {log})')

    def run_tool(self, key: str, script: str, args: List[str],
                 log: str) -> float:
        """Run ``tools/<script>`` as step ``key`` with the spec's executor;
        return its wall time in seconds."""
        tool = osp.join(ROOT, 'tools', script)
        distributed = self.spec.gpus > 1 and script in DISTRIBUTED_TOOLS
        start = time.perf_counter()
        self.executor.run(key, [sys.executable, tool, *args], log, ROOT,
                          distributed)
        return time.perf_counter() - start

    def step(self,
             key: str,
             work: Callable[[], dict],
             inputs: Callable[[], dict],
             work_dir: Optional[str] = None) -> Optional[dict]:
        """A cached step: its stored result, or ``work()`` stored now.

        The stored result is served only if it was made from the same
        ``inputs()`` (digests of everything the result depends on); else the
        step's ``work_dir`` is cleared and the step runs again.

        Returns:
            dict | None: The result, or None if the step failed (recorded in
            :attr:`failures`).
        """
        record = self.path('steps', f'{key}.json')
        try:
            digest = cache_key(**inputs())
            if osp.isfile(record):
                with open(record) as f:
                    stored = json.load(f)
                if stored.get('inputs') == digest:
                    self.progress(key, 'done', record, echo=False)
                    return stored
                self.echo(f'[benchmark] {key}: its settings or inputs '
                          'changed since it was cached; running it again')
                if work_dir and osp.isdir(work_dir):
                    shutil.rmtree(work_dir)
            self.echo(f'[benchmark] {key} ...')
            result = dict(work(), inputs=digest)
        except Exception as err:  # reported, the grid goes on
            self.failures[key] = f'{type(err).__name__}: {err}'
            self.progress(key, 'failed', self.grid.get(key, {}).get('log', ''))
            self.echo(f'[benchmark] {key} FAILED: {err}')
            return None
        atomic_write_text(record, json.dumps(result, indent=2))
        self.echo(f'[benchmark] {key} done ' + json.dumps({
            k: v
            for k, v in result.items()
            if not isinstance(v, (dict, list)) and k != 'inputs'
        }))
        return result

    # Steps -------------------------------------------------------------------
    def source_checkpoint(self, source: BenchmarkSource) -> Optional[str]:
        """Its given checkpoint, or the one its training run produces."""
        if source.checkpoint:
            return source.checkpoint

        work = self.path('sources', source.name)
        key = f'train-source_{source.name}'

        def train():
            args = [source.config, '--work-dir', work]
            if resume_or_set_aside(work, self.echo):
                args.append('--resume')
            if source.train_options:
                args += ['--cfg-options', *_options(source.train_options)]
            seconds = self.run_tool(key, 'train.py', args,
                                    osp.join(work, 'train.log'))
            return dict(
                checkpoint=latest_checkpoint(work),
                seconds=seconds,
                miou=best_miou(work))

        def inputs():
            return dict(
                config=config_fingerprint(source.config, source.train_options))

        result = self.step(key, train, inputs, work)
        return result['checkpoint'] if result else None

    def finetune(self,
                 source: BenchmarkSource,
                 target: BenchmarkTarget,
                 checkpoint: str,
                 seed: int,
                 variant: Optional[FinetuneVariant] = None,
                 iters: Optional[int] = None,
                 start_from: Optional[str] = None) -> Optional[dict]:
        """One finetuning run (vanilla unless ``variant`` says otherwise):
        best validation mIoU, learning curve and wall time.

        ``iters`` stops the run there (a budgeted search): runs of one
        source, variant and seed share a work dir, so a larger budget goes
        on from the last one's checkpoint and costs only the increment.
        ``start_from`` (a finished run's work dir, e.g. the ground truth's)
        is copied in first (:func:`copy_run`), so the run continues it to
        ``iters``; its curve includes the copied validations.
        """
        variant = variant or FinetuneVariant()
        name = variant.name if iters is None else f'{variant.name}-budgeted'
        work = self.path('finetune', target.name, source.name, name,
                         f'seed{seed}')
        key = f'finetune_{target.name}_{source.name}_{variant.name}_seed{seed}'
        if iters is not None:
            key += f'_iters{iters}'
        config = source.finetune_config.format(target=target.name)
        options = dict(self.spec.finetune.options, **variant.options,
                       **{'randomness.seed': seed})
        if iters is not None:
            options['train_cfg.max_iters'] = iters

        def run():
            resume = resume_or_set_aside(work, self.echo)
            if start_from and not resume:
                copy_run(start_from, work)
                resume = True
            args = [config, '--work-dir', work]
            start = dict(options, load_from=checkpoint)
            if resume:
                args.append('--resume')
                start['load_from'] = None
            args += ['--cfg-options', *_options(start)]
            if variant.weighting:
                args += [
                    '--trf-weighting', variant.weighting,
                    '--trf-source-dataset', source.dataset
                ]
                if variant.trf_options:
                    args += ['--trf-options', *_options(variant.trf_options)]
            seconds = self.run_tool(key, 'train.py', args,
                                    osp.join(work, 'train.log'))
            curve = miou_curve(work)
            if iters is not None:
                curve = [(it, miou) for it, miou in curve if it <= iters]
            result = dict(
                miou=max(miou for _, miou in curve),
                curve=curve,
                seconds=seconds)
            weights = osp.join(work, 'trf', 'weight_map.png')
            if osp.isfile(weights):
                result['weight_map'] = weights
            return result

        def inputs():
            parts = dict(
                config=config_fingerprint(config, options),
                checkpoint=checkpoint_fingerprint(checkpoint))
            if start_from:  # none to continue: copy_run fails the step
                last = last_checkpoint(start_from)
                parts['continues'] = last and checkpoint_fingerprint(last)
            if variant.weighting:
                parts.update(
                    weighting=variant.weighting,
                    source_data=config_fingerprint(source.dataset),
                    trf_options=variant.trf_options)
            return parts

        return self.step(key, run, inputs, work)

    def score(self,
              target: BenchmarkTarget,
              truth: Dict[str, float],
              checkpoints: Dict[str, str],
              num_pixels: Optional[int] = None) -> Optional[dict]:
        """``tools/score_sources.py`` for one target; the ranking JSON."""
        scoring = self.spec.scoring
        num_pixels = num_pixels or scoring.num_pixels
        sources = [
            dict(
                name=s.name,
                config=s.config,
                checkpoint=checkpoints[s.name],
                dataset=s.dataset,
                miou=truth.get(s.name),
                architecture=s.architecture) for s in self.spec.sources
            if checkpoints.get(s.name)
        ]
        pool = max([num_pixels, scoring.num_pixels] +
                   scoring.pixel_sweep) * scoring.repetitions
        args_key = hashlib.sha256(
            json.dumps([sources, num_pixels, pool,
                        vars(scoring)], default=str).encode()).hexdigest()

        work = self.path('scores', target.name, f'pixels-{num_pixels}')
        key = f'score_{target.name}_{num_pixels}_{args_key[:12]}'

        def run():
            sources_file = osp.join(work, 'sources.yaml')
            os.makedirs(work, exist_ok=True)
            atomic_write_text(sources_file, yaml.safe_dump(sources))
            args = [
                target.dataset, '--sources', sources_file, '--metrics',
                *scoring.metrics, '--num-pixels',
                str(num_pixels), '--repetitions',
                str(scoring.repetitions), '--layer', scoring.layer,
                '--source-images',
                str(scoring.source_images), '--pool-size',
                str(pool), '--work-dir', work, '--cache-dir',
                self.path('scores', 'feature_cache'), *scoring.extra_args,
                *(['--architecture-history', scoring.architecture_history]
                  if scoring.architecture_history else [])
            ]
            seconds = self.run_tool(key, 'score_sources.py', args,
                                    osp.join(work, 'score_sources.log'))
            with open(osp.join(work, 'ranking.json')) as f:
                ranking = json.load(f)
            plot = osp.join(work, 'score_vs_miou.png')
            return dict(
                ranking=ranking,
                seconds=seconds,
                plot=plot if osp.isfile(plot) else None)

        def inputs():
            return dict(
                target=config_fingerprint(target.dataset),
                sources=[
                    dict(
                        config=config_fingerprint(s['config']),
                        checkpoint=checkpoint_fingerprint(s['checkpoint']),
                        data=config_fingerprint(s['dataset'])) for s in sources
                ],
                **({
                    'history': read_yaml(scoring.architecture_history)
                } if scoring.architecture_history else {}))

        return self.step(key, run, inputs, work)

    # The grid ------------------------------------------------------------
    def parallel(self, work: Callable, calls: List[tuple]) -> list:
        """``work(*call)`` for every call, ``jobs`` at a time."""
        if self.spec.jobs <= 1:
            return [work(*call) for call in calls]
        with ThreadPoolExecutor(self.spec.jobs) as pool:
            return list(pool.map(lambda call: work(*call), calls))

    def run(self) -> dict:
        """Run (or resume) every step; return everything the report needs.
        """
        spec = self.spec
        checkpoints = dict(
            zip([s.name for s in spec.sources],
                self.parallel(self.source_checkpoint,
                              [(s, ) for s in spec.sources])))
        calls = [(source, target, checkpoints[source.name], seed)
                 for target in spec.targets for source in spec.sources
                 if checkpoints[source.name] for seed in spec.finetune.seeds]
        finetunes = self._collect(calls)
        proxies = [
            FinetuneVariant(f'proxy-{name}', options=options)
            for name, options in spec.finetune.proxies.items()
        ]
        finetunes.update(
            self._collect(
                [call + (variant, ) for variant in proxies for call in calls]))
        truth = self._truths(finetunes,
                             ['vanilla'] + [p.name for p in proxies])
        proxy_truth = {p.name[len('proxy-'):]: truth[p.name] for p in proxies}
        truth = truth['vanilla']
        scores = {
            t.name: self.score(t, truth[t.name], checkpoints)
            for t in spec.targets
        }
        sweep = self._pixel_sweep(scores, truth, checkpoints)
        finetunes.update(
            self._collect(self._weighted_calls(checkpoints, truth)))
        return dict(
            checkpoints=checkpoints,
            source_miou=self.source_mious(),
            finetunes=finetunes,
            truth=truth,
            proxy_truth=proxy_truth,
            scores=scores,
            sweep=sweep,
            failures=dict(self.failures))

    def _truths(self, finetunes: Dict,
                variants: List[str]) -> Dict[str, Dict[str, Dict[str, float]]]:
        """Per variant and target, each source's mIoU averaged over its
        finished seeds (a source with none is left out)."""
        truth = {
            variant: {
                target.name: {}
                for target in self.spec.targets
            }
            for variant in variants
        }
        for (target, source, variant), runs in finetunes.items():
            if runs:
                truth[variant][target][source] = sum(r['miou']
                                                     for r in runs) / len(runs)
        return truth

    def _pixel_sweep(self, scores: Dict, truth: Dict,
                     checkpoints: Dict[str, str]) -> Dict[str, Dict]:
        """Per target, the rankings at every pixel count of the spec's
        sweep (the main count's is ``scores``' own)."""
        spec = self.spec
        return {
            t.name: {
                n:
                scores[t.name] if n == spec.scoring.num_pixels else self.score(
                    t, truth[t.name], checkpoints, n)
                for n in spec.scoring.pixel_sweep
            }
            for t in spec.targets
        }

    def _weighted_calls(self, checkpoints: Dict[str, str],
                        truth: Dict) -> List[tuple]:
        """The transferability-weighted finetuning runs of the sources the
        spec's ``weighted`` section selects by the vanilla truth."""
        spec = self.spec
        variants = [
            FinetuneVariant(f'trf-{metric}', metric,
                            spec.weighted.hook_options)
            for metric in spec.weighted.metrics
        ]
        return [(source, target, checkpoints[source.name], seed, variant)
                for target in spec.targets for source in spec.sources
                if checkpoints[source.name]
                and spec.weighted.selects(source.name, truth[target.name])
                for variant in variants for seed in spec.weighted.seeds]

    def source_mious(self) -> Dict[str, float]:
        """Each trained source's best validation mIoU on its own data (a
        prior known before any target image is seen); sources given as
        checkpoints are left out."""
        out = {}
        for source in self.spec.sources:
            record = self.path('steps', f'train-source_{source.name}.json')
            if not source.checkpoint and osp.isfile(record):
                with open(record) as f:
                    out[source.name] = json.load(f)['miou']
        return out

    def _collect(self, calls: List[tuple]) -> Dict:
        """Run finetuning calls ``(source, target, checkpoint, seed[,
        variant])``; results grouped by (target, source, variant name),
        failed runs left out."""
        grouped = {}
        for call, result in zip(calls, self.parallel(self.finetune, calls)):
            variant = call[4].name if len(call) > 4 else 'vanilla'
            key = (call[1].name, call[0].name, variant)
            grouped.setdefault(key, [])
            if result:
                grouped[key].append(result)
        return grouped


__all__ = ['BenchmarkRunner']

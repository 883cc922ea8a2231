"""Rank source segmentors for a target dataset by transferability.

    python tools/score_sources.py TARGET_DATASET_CONFIG
        (--sources sources.yaml | --zoo FCN PSPNet [--zoo-data Cityscapes])
        [--metrics fusion hscore nce otce leep logme] [--fusion-rule zscore]
        [--architecture-history history.yaml]
        [--num-pixels 10000]
        [--repetitions 10] [--sampler uniform|balanced|full]
        [--layer logits|pre_logits] [--ground-truth miou.yaml]
        [--work-dir DIR] [--cfg-options k=v ...] [--launcher pytorch]

TARGET_DATASET_CONFIG describes the labelled target images: its
``trf_dataset`` if defined, else ``train_dataloader.dataset`` with the
config's ``test_pipeline``. The sources file is a YAML/JSON list of
``{name, config, checkpoint, dataset, miou, source_miou, architecture}``
(``dataset``: the config of the source's training data, needed by OTCE;
``miou``: optional ground truth; ``source_miou`` and ``architecture``:
optional priors, its own validation mIoU and its family in the
``--architecture-history`` of past targets' finetuning results).
Writes ``ranking.{md,csv,json}`` and, with ground truth for 2+ sources,
correlations and ``score_vs_miou.png`` to the work dir; features are cached
in ``<work-dir>/feature_cache``.
"""
import argparse
import os
import os.path as osp
import warnings

import torch
from mmengine.dist import is_main_process
from mmengine.logging import MMLogger, print_log

import mmseg_trf  # noqa: F401  registers the package's components
from mmseg_trf.apis import (ScoringSettings, SourceSpec, dataset_config,
                            score_sources, write_reports, zoo_sources)
from mmseg_trf.apis.report import (ARCHITECTURE, DEFAULT_RANKING, FUSION,
                                   FUSION_RULE, HISTORY_PRIOR_SHARE, PRIORS,
                                   add_fusion, add_history_fusion,
                                   ranked_metrics)
from mmseg_trf.apis.scoring import (LAYERS, checked_miou,
                                    read_architecture_history)
from mmseg_trf.evaluation import FUSION_RULES
from mmseg_trf.metrics import METRICS
from mmseg_trf.metrics.optimal_transport import SOLVERS
from mmseg_trf.sampling import SAMPLERS, SamplingSettings
from mmseg_trf.utils import (KeyValueAction, finalize_distributed,
                             init_distributed, read_yaml)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Rank source segmentors for a target dataset')
    parser.add_argument('target', help='target dataset config')
    add_source_arguments(parser)
    add_ranking_arguments(parser)
    add_sampling_arguments(parser)
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def add_source_arguments(parser):
    """Where the sources come from, and their ground truth."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--sources', help='YAML/JSON list of sources')
    group.add_argument(
        '--zoo',
        nargs='+',
        metavar='COLLECTION',
        help='pick sources from MMSeg model-zoo metafiles '
        '(e.g. FCN PSPNet)')
    parser.add_argument(
        '--zoo-data',
        default='Cityscapes',
        help='training data of the zoo sources to pick')
    parser.add_argument(
        '--zoo-dataset',
        help='source dataset config for '
        'the zoo sources (OTCE)')
    parser.add_argument('--ground-truth', help='YAML/JSON {source: mIoU}')


def add_ranking_arguments(parser):
    """The metrics, the fusion and the priors that order the sources."""
    parser.add_argument(
        '--metrics',
        nargs='+',
        default=list(DEFAULT_RANKING),
        choices=list(METRICS) + [FUSION],
        help='metrics to compute; the first orders the ranking and the '
        'P(best) column; "fusion" adds a fused score of --fusion-members '
        '(default: the fusion of the five metrics first, the choice of the '
        'leave-one-scenario-out protocol; no method reaches Spearman 0.7 on '
        'left-out scenarios, see docs/en/source_selection.md)')
    parser.add_argument(
        '--fusion-members',
        nargs='+',
        choices=list(METRICS) + list(PRIORS),
        help='metrics the fused score combines (default: the other '
        '--metrics); computed if not listed; source-miou is the prior '
        'given as `source_miou` in the sources file (or the zoo\'s), '
        'architecture the prior of --architecture-history')
    parser.add_argument(
        '--architecture-history',
        help='YAML/JSON {past target: [{architecture, miou}, ...]}: '
        'finetuning results on past targets; each source names its family '
        'as `architecture` in the sources file. With --metrics fusion, the '
        'ranking is by "fusion + architecture" first: the fused score and '
        'this prior, the prior weighing --architecture-share (the '
        'protocol\'s choice with a history, see '
        'docs/en/source_selection.md)')
    parser.add_argument(
        '--architecture-share',
        type=share,
        default=HISTORY_PRIOR_SHARE,
        help='the architecture prior\'s weight in [0, 1] in "fusion + '
        'architecture", the fused score weighing the rest (default: the '
        'share the selection study learns on every run it has)')
    parser.add_argument(
        '--fusion-rule',
        choices=FUSION_RULES,
        default=FUSION_RULE,
        help='average of ranks or of z-scores across sources, per '
        'repetition')


def add_sampling_arguments(parser):
    """How pixels are sampled and which features they carry."""
    parser.add_argument(
        '--num-pixels',
        type=positive_int,
        default=10000,
        help='N, pixels per repetition')
    parser.add_argument(
        '--repetitions', type=positive_int, default=10, help='K')
    parser.add_argument('--sampler', choices=SAMPLERS, default='uniform')
    parser.add_argument(
        '--pixels-per-image',
        type=positive_int,
        default=1000,
        help='per-image pixels of the balanced sampler')
    parser.add_argument(
        '--pool-size',
        type=positive_int,
        default=100000,
        help='least cached pool of sampled pixels')
    parser.add_argument(
        '--layer',
        choices=LAYERS,
        default='logits',
        help='classifier output (seed code) or its input')
    parser.add_argument(
        '--source-images',
        type=positive_int,
        default=20,
        help='source images OTCE samples pixels from')
    parser.add_argument('--otce-solver', choices=SOLVERS, default='sparse_emd')


def add_run_arguments(parser):
    """Where results go and how the run is launched."""
    parser.add_argument('--work-dir', help='where reports and caches go')
    parser.add_argument(
        '--cache-dir',
        help='feature cache (default: '
        '<work-dir>/feature_cache); share it between runs')
    parser.add_argument('--batch-size', type=positive_int, default=1)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='overrides applied to every model config')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none')
    parser.add_argument(
        '--tolerate-failures',
        action='store_true',
        help='exit 0 when some (not all) sources or metrics failed')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_sources(args) -> list:
    """Sources from the file or the zoo, with ground truth attached."""
    if args.sources:
        entries = read_yaml(args.sources)
        if not isinstance(entries, list):
            raise ValueError(f'{args.sources} must hold a list of sources')
        sources = [
            SourceSpec.from_entry(entry, f'{args.sources}, source {i + 1}')
            for i, entry in enumerate(entries)
        ]
        if not sources:
            raise ValueError(f'{args.sources} lists no source')
    else:
        sources = zoo_sources(args.zoo, args.zoo_data, args.zoo_dataset)
        if not sources:
            raise ValueError(f'no zoo model of {args.zoo} trained on '
                             f'{args.zoo_data}')
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f'source names must be unique: {names}')
    if args.ground_truth:
        truth = read_ground_truth(args.ground_truth, names)
        for source in sources:
            if source.name in truth:
                source.miou = truth[source.name]
    return sources


def read_ground_truth(path: str, names) -> dict:
    """``{source: mIoU}`` checked before any scoring: numbers in [0, 1];
    names that are not sources are reported."""
    truth = read_yaml(path)
    if not isinstance(truth, dict):
        raise ValueError(f'{path} must map source names to mIoU values')
    unknown = sorted(set(truth) - set(names))
    if unknown:
        warnings.warn(f'{path} names sources that are not scored: '
                      f'{unknown} (the sources are {names})')
    return {
        name: checked_miou(value, f'{path}, {name}')
        for name, value in truth.items()
    }


def share(text: str) -> float:
    """argparse type: a weight in [0, 1]."""
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f'must be in [0, 1], got {value}')
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def main(argv=None):
    args = parse_args(argv)
    members = fusion_members(args)
    init_distributed(args.launcher)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'score_sources',
        osp.splitext(osp.basename(args.target))[0])
    os.makedirs(work_dir, exist_ok=True)
    MMLogger.get_instance(
        'mmseg_trf', log_file=osp.join(work_dir, 'score_sources.log'))
    sources = load_sources(args)
    priors = architecture_priors(args.architecture_history, sources)
    computed = computed_metrics(args.metrics, members)
    results = score_sources(
        sources, dataset_config(args.target), scoring_settings(args, computed),
        args.cache_dir or osp.join(work_dir, 'feature_cache'))
    if is_main_process():
        for source, result in zip(sources, results):
            result.architecture_prior = priors.get(source.architecture)
        report(args, results, members, computed, work_dir, bool(priors))
    finalize_distributed()
    exit_on_failures(results, args.tolerate_failures)


def fusion_members(args) -> list:
    """The members of the fused score, checked against the other options."""
    members = args.fusion_members or [m for m in args.metrics if m != FUSION]
    if FUSION in args.metrics and not members:
        raise SystemExit('score_sources: --metrics fusion fuses the other '
                         '--metrics or --fusion-members; none given')
    if ARCHITECTURE in members and not args.architecture_history:
        raise SystemExit('score_sources: the fusion member architecture '
                         'needs --architecture-history')
    return members


def architecture_priors(history, sources) -> dict:
    """``{family: prior}`` from the architecture history, if given; warns
    about the sources whose family it lacks."""
    priors = read_architecture_history(history) if history else {}
    unseen = [s.name for s in sources if s.architecture not in priors]
    if priors and unseen:
        warnings.warn(f'{history} has no family of {unseen} (give '
                      '`architecture` in the sources file); their fused '
                      'scores use the other members')
    return priors


def computed_metrics(metrics, members) -> list:
    """The metrics to compute: those asked for, and the fusion's members
    that are not priors."""
    computed = [m for m in metrics if m != FUSION]
    if FUSION in metrics:
        computed += [
            m for m in members if m not in computed and m not in PRIORS
        ]
    return computed


def scoring_settings(args, computed) -> ScoringSettings:
    """The scoring options of the command line."""
    return ScoringSettings(
        metrics=computed,
        sampling=SamplingSettings(args.sampler, args.num_pixels,
                                  args.repetitions, args.pixels_per_image,
                                  args.pool_size, args.seed),
        layer=args.layer,
        source_images=args.source_images,
        otce_solver=args.otce_solver,
        batch_size=args.batch_size,
        device=args.device,
        cfg_options=args.cfg_options)


def report(args, results, members, computed, work_dir, with_history):
    """Adds the fused scores, writes the reports and prints the ranking."""
    if FUSION in args.metrics:
        add_fusion(results, members, args.fusion_rule)
        if with_history:
            add_history_fusion(
                results, rule=args.fusion_rule, share=args.architecture_share)
    ranked = ranked_metrics(args.metrics, with_history)
    written = write_reports(
        results, ranked + [m for m in computed if m not in ranked], work_dir,
        dict(
            target=args.target,
            sampler=args.sampler,
            N=args.num_pixels,
            K=args.repetitions,
            layer=args.layer,
            seed=args.seed,
            otce_solver=args.otce_solver,
            fusion=dict(members=members, rule=args.fusion_rule)
            if FUSION in args.metrics else None,
            architecture_history=args.architecture_history,
            architecture_share=args.architecture_share
            if args.architecture_history else None))
    with open(written['markdown']) as f:
        print(f.read())
    for kind, path in written.items():
        print_log(f'{kind}: {path}', logger='current')


def exit_on_failures(results, tolerate: bool):
    """Exits non-zero if everything failed, or anything without
    ``tolerate``."""
    failed = failures(results)
    if failed and (len(failed) == len(results) or not tolerate):
        raise SystemExit('score_sources: failed: ' + '; '.join(failed) +
                         ('' if len(failed) ==
                          len(results) else ' (the rest is in the reports; '
                          '--tolerate-failures exits 0 on partial success)'))


def failures(results) -> list:
    """``source`` or ``source/metric`` of everything that failed (a prior
    that is not known is not a failure: the fusion uses the other
    members)."""
    return [
        r.name if r.error else f'{r.name}/{m}' for r in results for m in (
            [None] if r.error else
            [m for m, v in r.metrics.items() if v.error and m not in PRIORS])
    ]


if __name__ == '__main__':
    main()

"""What a transferability benchmark runs: sources, targets, protocol."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

from ..apis.report import DEFAULT_RANKING, ranked_metrics
from ..utils.fields import build_checked, checked_fields
from ..utils.yaml_files import read_yaml
from .executor import SlurmOptions

EXECUTORS = ('local', 'slurm')


@dataclass
class BenchmarkSource:
    """A source model of the grid.

    Args:
        name (str): Unique name.
        config (str): Its training config (model and source data).
        dataset (str): Config of its training data (OTCE source pixels).
        finetune_config (str): Finetuning config; ``{target}`` is replaced
            by the target's name.
        checkpoint (str, optional): Trained weights; trained when missing.
        train_options (dict): ``--cfg-options`` for training it.
        architecture (str, optional): Its family in the scoring's
            architecture history.
    """

    name: str
    config: str
    dataset: str
    finetune_config: str
    checkpoint: Optional[str] = None
    train_options: Dict = field(default_factory=dict)
    architecture: Optional[str] = None


@dataclass
class BenchmarkTarget:
    """A few-shot target: ``dataset`` is its dataset config (its
    ``trf_dataset`` holds the labelled images that are scored)."""

    name: str
    dataset: str


@dataclass
class FinetuneProtocol:
    """Ground-truth finetuning: one run per seed, best validation mIoU.

    Args:
        seeds (list[int]): Finetuning seeds; the ground truth is their mean.
        options (dict): ``--cfg-options`` for every finetuning run.
        proxies (dict): Cheaper protocols reported beside the ground truth,
            never mixed with it: name -> ``--cfg-options`` on top of
            ``options`` (e.g. a shorter budget), run with the same seeds.
    """

    seeds: List[int] = field(default_factory=lambda: [0])
    options: Dict = field(default_factory=dict)
    proxies: Dict[str, Dict] = field(default_factory=dict)


@dataclass
class WeightedProtocol:
    """Transferability-weighted finetuning (Table 3).

    Args:
        metrics (list[str]): Weight-map metrics.
        sources (str | list[str]): ``'all'``, ``'none'``, ``'best'`` (per
            target, the source of best ground truth) or source names.
        seeds (list[int]): Seeds, as for vanilla finetuning.
        hook_options (dict): Further ``TransferabilityHook`` arguments.
    """

    metrics: List[str] = field(
        default_factory=lambda: ['otce', 'leep', 'logme'])
    sources: Union[str, List[str]] = 'all'
    seeds: List[int] = field(default_factory=lambda: [0])
    hook_options: Dict = field(default_factory=dict)

    def selects(self, name: str, truth: Dict[str, float]) -> bool:
        """Whether source ``name`` is finetuned with weights for a target
        with ground truth ``truth`` (source -> mIoU)."""
        if self.sources == 'all':
            return True
        if self.sources == 'none':
            return False
        if self.sources == 'best':
            return bool(truth) and name == max(truth, key=truth.get)
        return name in self.sources


@dataclass
class FinetuneVariant:
    """One way of finetuning: vanilla, or weighted with its options.

    Args:
        name (str): Its name in steps, folders and reports.
        weighting (str, optional): ``--trf-weighting`` metric; ``None`` is
            unweighted.
        trf_options (dict): ``--trf-options`` (hook arguments,
            ``loss_normalize``).
        options (dict): Further ``--cfg-options``.
    """

    name: str = 'vanilla'
    weighting: Optional[str] = None
    trf_options: Dict = field(default_factory=dict)
    options: Dict = field(default_factory=dict)


@dataclass
class ScoringProtocol:
    """Arguments of ``tools/score_sources.py`` (Table 2, Figs. 4 and 6);
    ``architecture_history`` is its ``--architecture-history``, which makes
    ``fusion + architecture`` the first ranking when ``fusion`` is scored."""

    metrics: List[str] = field(default_factory=lambda: list(DEFAULT_RANKING))
    num_pixels: int = 15000
    repetitions: int = 10
    layer: str = 'logits'
    source_images: int = 20
    pixel_sweep: List[int] = field(default_factory=list)
    extra_args: List[str] = field(default_factory=list)
    architecture_history: Optional[str] = None

    @property
    def ranking(self) -> str:
        """What the scored ranking is ordered by first."""
        return ranked_metrics(self.metrics, bool(self.architecture_history))[0]


@dataclass
class BenchmarkSpec:
    """A whole benchmark grid (see ``configs/benchmark/*.yaml``).

    ``gpus`` > 1 runs training and scoring distributed; ``jobs`` > 1 runs
    that many independent steps side by side (on CPUs, each with its share
    of the cores). ``executor: slurm`` submits every step as a Slurm job
    (resources and retries in ``slurm``, a :class:`SlurmOptions`; ``jobs``
    is then how many are in the queue at once).
    """

    sources: List[BenchmarkSource]
    targets: List[BenchmarkTarget]
    finetune: FinetuneProtocol = field(default_factory=FinetuneProtocol)
    weighted: WeightedProtocol = field(default_factory=WeightedProtocol)
    scoring: ScoringProtocol = field(default_factory=ScoringProtocol)
    gpus: int = 1
    jobs: int = 1
    executor: str = 'local'
    slurm: SlurmOptions = field(default_factory=SlurmOptions)

    @classmethod
    def from_dict(cls, data: dict) -> 'BenchmarkSpec':
        """Build from parsed YAML, checking names are unique."""
        checked_fields(cls, data, 'benchmark spec')
        spec = cls(
            sources=[
                build_checked(BenchmarkSource, s, f'sources[{i}]')
                for i, s in enumerate(data['sources'])
            ],
            targets=[
                build_checked(BenchmarkTarget, t, f'targets[{i}]')
                for i, t in enumerate(data['targets'])
            ],
            finetune=build_checked(FinetuneProtocol, data.get('finetune', {}),
                                   'finetune'),
            weighted=build_checked(WeightedProtocol, data.get('weighted', {}),
                                   'weighted'),
            scoring=build_checked(ScoringProtocol, data.get('scoring', {}),
                                  'scoring'),
            gpus=int(data.get('gpus', 1)),
            jobs=int(data.get('jobs', 1)),
            executor=data.get('executor', 'local'),
            slurm=build_checked(SlurmOptions, data.get('slurm', {}), 'slurm'))
        if spec.executor not in EXECUTORS:
            raise ValueError(f'benchmark spec: executor {spec.executor!r}; '
                             f'known: {list(EXECUTORS)}')
        for kind in ('sources', 'targets'):
            names = [item.name for item in getattr(spec, kind)]
            if len(set(names)) != len(names):
                raise ValueError(f'{kind} names must be unique: {names}')
        return spec

    @classmethod
    def from_file(cls, path: str) -> 'BenchmarkSpec':
        """Read a YAML spec."""
        return cls.from_dict(read_yaml(path))


__all__ = [
    'BenchmarkSpec', 'BenchmarkSource', 'BenchmarkTarget', 'FinetuneProtocol',
    'WeightedProtocol', 'ScoringProtocol', 'FinetuneVariant'
]

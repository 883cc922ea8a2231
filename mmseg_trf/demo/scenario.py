"""A demo scenario: domains, tasks, the source zoo and the protocols."""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..synthetic import SceneStyle
from ..utils.fields import build_checked, checked_fields
from ..utils.yaml_files import read_yaml
from .models import TINY_MODELS
from .tasks import LabelSpace, label_space


@dataclass
class SourceData:
    """One source dataset: a domain and a task.

    Args:
        domain (str): A key of ``Scenario.domains``.
        task (str): A key of ``Scenario.tasks``.
        training_iters (int, optional): Train its models this long instead
            of ``Scenario.training.iters`` (a source trained longer or
            shorter than the others).
        architectures (list[str], optional): Train only these of
            ``Scenario.architectures`` on it (a zoo whose checkpoints differ
            in architecture and data at once); all of them by default.
    """

    domain: str
    task: str
    training_iters: Optional[int] = None
    architectures: Optional[List[str]] = None

    @property
    def data_name(self) -> str:
        """Its data (a city folder): one per domain and task."""
        return f'{self.domain}-{self.task}'

    @property
    def name(self) -> str:
        suffix = f'-{self.training_iters}it' if self.training_iters else ''
        return self.data_name + suffix


@dataclass
class Training:
    """Optimisation of a training or finetuning run (Adam)."""

    iters: int = 300
    batch: int = 4
    lr: float = 1e-3
    seeds: List[int] = field(default_factory=lambda: [0])
    val_interval: Optional[int] = None


@dataclass
class Scenario:
    """Everything the demo generates and runs.

    Args:
        seed (int): Seed of the scenes (``--seed`` overrides it).
        image_size (tuple[int, int]): ``(height, width)`` of every image.
        domains (dict): Name -> ``SceneStyle`` factors.
        tasks (dict): Name -> label space (``cityscapes19``, ``coarse``,
            ``{subset: [...]}``).
        target_domain (str): The target's domain (its task is the 19
            Cityscapes classes).
        target_labelled (int): Labelled target images (20 in the papers).
        target_heldout (int): Held-out target images (evaluation).
        source_data (list[SourceData]): Source datasets.
        source_images (int): Images per source dataset.
        architectures (list[str]): Architectures of the zoo (each is trained
            on every source dataset).
        training (Training): Source training.
        finetune (Training): Finetuning on the target (ground truth; to a
            plateau, see ``benchmarks/bench_selection.py``).
        proxies (dict): Cheaper finetuning protocols reported beside the
            ground truth and never mixed with it: name -> ``Training`` (its
            ``seeds`` are the ground truth's).
        target_classes (list[str], optional): The target task as a subset
            of the 19 Cityscapes classes (the others ignored); all 19 by
            default.
        scoring (dict): ``ScoringProtocol`` fields.
        weighted (dict): ``WeightedProtocol`` fields; ``sources: best``
            picks the source with the best ground truth.
        jobs (int): Runs executed side by side.
    """

    seed: int
    image_size: Tuple[int, int]
    domains: Dict[str, Dict]
    tasks: Dict[str, object]
    target_domain: str
    source_data: List[SourceData]
    architectures: List[str]
    target_labelled: int = 20
    target_heldout: int = 20
    source_images: int = 100
    training: Training = field(default_factory=Training)
    finetune: Training = field(
        default_factory=lambda: Training(iters=100, lr=1e-4))
    proxies: Dict[str, Training] = field(default_factory=dict)
    target_classes: Optional[List[str]] = None
    scoring: Dict = field(default_factory=dict)
    weighted: Dict = field(default_factory=dict)
    jobs: int = 1

    @classmethod
    def from_dict(cls, data: dict) -> 'Scenario':
        """Parse and check a scenario."""
        data = dict(checked_fields(cls, data, 'scenario'))
        data['image_size'] = tuple(data['image_size'])
        data['source_data'] = [
            build_checked(SourceData, s, f'source_data[{i}]')
            for i, s in enumerate(data['source_data'])
        ]
        for key in ('training', 'finetune'):
            if key in data:
                data[key] = build_checked(Training, data[key], key)
        data['proxies'] = {
            name: build_checked(Training, value, f'proxies.{name}')
            for name, value in data.get('proxies', {}).items()
        }
        scenario = cls(**data)
        scenario.validate()
        return scenario

    @classmethod
    def from_file(cls, path: str) -> 'Scenario':
        """Read a scenario YAML; a ``_base_`` file (relative to it) gives
        every top-level key the file does not set."""
        return cls.from_dict(_read_yaml(path))

    def validate(self) -> None:
        """Names must resolve; styles and tasks must build."""
        for name in self.domains:
            self.style(name)
        for source in self.source_data:
            if source.domain not in self.domains:
                raise ValueError(f'source domain {source.domain!r} is not '
                                 'in domains')
            if source.task not in self.tasks:
                raise ValueError(f'source task {source.task!r} is not in '
                                 'tasks')
            for arch in source.architectures or ():
                if arch not in self.architectures:
                    raise ValueError(f'source {source.name!r}: architecture '
                                     f'{arch!r} is not in architectures')
        if self.target_domain not in self.domains:
            raise ValueError(f'target domain {self.target_domain!r} is not '
                             'in domains')
        for arch in self.architectures:
            if arch not in TINY_MODELS:
                raise ValueError(f'unknown architecture {arch!r}')
        for task in self.tasks.values():
            label_space(task)
        if self.target_classes is not None:
            label_space(dict(subset=self.target_classes))
        names = [source.name for source in self.source_data]
        if len(set(names)) != len(names):
            raise ValueError(f'source_data names must be unique: {names}')

    def style(self, domain: str) -> SceneStyle:
        """A domain's scene style; its ``shifted_classes`` may be named
        (Cityscapes class names) or train ids."""
        factors = dict(self.domains[domain])
        names = label_space('cityscapes19').classes
        shifted = []
        for name in factors.get('shifted_classes', ()):
            if name not in names and name not in range(len(names)):
                raise ValueError(
                    f'domains.{domain}.shifted_classes: {name!r} is neither '
                    f'a Cityscapes class ({", ".join(names)}) nor a train id')
            shifted.append(names.index(name) if name in names else name)
        factors['shifted_classes'] = tuple(shifted)
        return build_checked(SceneStyle, factors, f'domains.{domain}')

    def task(self, name: str) -> LabelSpace:
        return label_space(self.tasks[name])


def _read_yaml(path: str) -> dict:
    data = read_yaml(path)
    if '_base_' not in data:
        return data
    base = osp.join(osp.dirname(path), data.pop('_base_'))
    return dict(_read_yaml(base), **data)


__all__ = ['Scenario', 'SourceData', 'Training']

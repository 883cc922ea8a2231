"""The embedded demo: a synthetic street-scene transferability benchmark
(source zoo, few-shot target, ground truth, scoring, weighted finetuning)
that runs on CPU in minutes."""
from .build import DemoBuilder
from .models import TINY_MODELS, model_base, model_overrides
from .scenario import Scenario, SourceData, Training
from .summary import write_summary
from .tasks import LabelSpace, label_space

__all__ = [
    'Scenario', 'SourceData', 'Training', 'DemoBuilder', 'TINY_MODELS',
    'model_base', 'model_overrides', 'LabelSpace', 'label_space',
    'write_summary'
]

"""Transferability benchmarks: a grid of sources x targets, run step by
step (train, finetune, score, weighted finetune) and reported as the ICIP
2023 paper's Tables 2-3 and Figs. 4-6."""
from .executor import SlurmOptions, StepFailed
from .report import write_report
from .runner import BenchmarkRunner
from .runs import best_miou, latest_checkpoint, miou_curve
from .search import budgeted_search
from .spec import (BenchmarkSource, BenchmarkSpec, BenchmarkTarget,
                   FinetuneProtocol, FinetuneVariant, ScoringProtocol,
                   WeightedProtocol)

__all__ = [
    'BenchmarkSpec', 'BenchmarkSource', 'BenchmarkTarget', 'FinetuneProtocol',
    'ScoringProtocol', 'WeightedProtocol', 'BenchmarkRunner', 'StepFailed',
    'best_miou', 'latest_checkpoint', 'write_report', 'FinetuneVariant',
    'SlurmOptions', 'miou_curve', 'budgeted_search'
]

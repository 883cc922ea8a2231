"""Write a scenario's data (Cityscapes layout), configs and benchmark spec.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List

import yaml

from ..apis.cache import atomic_write_text
from ..synthetic import write_cityscapes
from .models import model_base, model_overrides
from .scenario import Scenario, SourceData, Training

TARGET_CITY = 'target'


def _text(**variables) -> str:
    """Config file text assigning ``variables`` (``_base_`` first)."""
    lines = []
    if '_base_' in variables:
        lines.append(f"_base_ = {variables.pop('_base_')!r}")
    lines += [f'{name} = {value!r}' for name, value in variables.items()]
    return '\n'.join(lines) + '\n'


def pipelines(size) -> Dict[str, list]:
    """Train (scale jitter, crop, flip) and test pipelines at ``size``."""
    height, width = size
    return dict(
        train_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(
                type='RandomResize',
                scale=(width, height),
                ratio_range=(0.75, 1.5),
                keep_ratio=True),
            dict(
                type='RandomCrop',
                crop_size=(height, width),
                cat_max_ratio=0.75),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs')
        ],
        test_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')
        ])


def _loader(dataset: dict, batch: int, train: bool) -> dict:
    return dict(
        batch_size=batch,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(
            type='InfiniteSampler' if train else 'DefaultSampler',
            shuffle=train),
        dataset=dataset)


class DemoBuilder:
    """Writes everything a scenario needs under ``out_dir``.

    Args:
        scenario (Scenario): The scenario.
        out_dir (str): Output folder.
        seed (int): Scene seed.
    """

    def __init__(self, scenario: Scenario, out_dir: str, seed: int) -> None:
        self.scenario, self.seed = scenario, seed
        self.out_dir = osp.abspath(out_dir)
        self.data_root = osp.join(out_dir, 'data', 'cityscapes')

    def path(self, *parts: str) -> str:
        return osp.join(self.out_dir, *parts)

    # Data --------------------------------------------------------------------
    def write_data(self) -> None:
        """Render every dataset, unless this exact data is already there."""
        s = self.scenario
        recipe = json.dumps(
            dict(
                seed=self.seed,
                size=s.image_size,
                domains=s.domains,
                tasks=s.tasks,
                target=s.target_domain,
                target_images=s.target_labelled + s.target_heldout,
                sources=[vars(d) for d in s.source_data],
                images=s.source_images),
            sort_keys=True,
            default=str)
        marker = osp.join(self.data_root, 'recipe.json')
        if osp.isfile(marker) and open(marker).read() == recipe:
            return
        write_cityscapes(
            self.data_root,
            'train',
            TARGET_CITY,
            s.target_labelled + s.target_heldout,
            s.style(s.target_domain),
            s.image_size,
            seed=self.seed * 1000)
        for index, data in enumerate(s.source_data):
            task = s.task(data.task)
            write_cityscapes(
                self.data_root,
                'train',
                data.name,
                s.source_images,
                s.style(data.domain),
                s.image_size,
                seed=self.seed * 1000 + 1 + index,
                label_map=None if task.identity else task)
        atomic_write_text(marker, recipe)

    # Configs -------------------------------------------------------------
    def _dataset(self, city: str, classes, subset: str = None) -> dict:
        """A dataset of one city folder (a task other than the 19
        Cityscapes classes gets a BaseSegDataset with its class names)."""
        if subset is not None:
            return dict(
                type='CityscapesCityDataset',
                data_root=self.data_root,
                city=city,
                subset=subset,
                num_labelled=self.scenario.target_labelled)
        common = dict(
            data_root=self.data_root,
            data_prefix=dict(
                img_path=f'leftImg8bit/train/{city}',
                seg_map_path=f'gtFine/train/{city}'))
        if classes is None:
            return dict(type='CityscapesDataset', **common)
        return dict(
            type='BaseSegDataset',
            img_suffix='_leftImg8bit.png',
            seg_map_suffix='_gtFine_labelTrainIds.png',
            metainfo=dict(classes=tuple(classes)),
            **common)

    def dataset_config(self, name: str, train: dict, val: dict,
                       batch: int) -> str:
        """A dataset config file: loaders, evaluator and ``trf_dataset``."""
        pipes = pipelines(self.scenario.image_size)
        train = dict(train, pipeline=pipes['train_pipeline'])
        val = dict(val, pipeline=pipes['test_pipeline'])
        path = self.path('configs', 'datasets', f'{name}.py')
        atomic_write_text(
            path,
            _text(
                custom_imports=dict(
                    imports=['mmseg_trf'], allow_failed_imports=False),
                **pipes,
                train_dataloader=_loader(train, batch, True),
                val_dataloader=_loader(val, 1, False),
                test_dataloader=_loader(val, 1, False),
                val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
                test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
                trf_dataset=dict(train, pipeline=pipes['test_pipeline'])))
        return path

    def run_config(self, name: str, arch: str, dataset_config: str,
                   classes: int, training: Training) -> str:
        """A training/finetuning config: tiny model, Adam, best-val kept."""
        height, width = self.scenario.image_size
        interval = training.val_interval or training.iters
        path = self.path('configs', 'runs', f'{name}.py')
        atomic_write_text(
            path,
            _text(
                _base_=[
                    model_base(arch), 'mmseg::_base_/default_runtime.py',
                    dataset_config
                ],
                custom_imports=dict(
                    imports=['mmseg_trf'], allow_failed_imports=False),
                model=dict(
                    data_preprocessor=dict(size=(height, width)),
                    **model_overrides(arch, classes)),
                optim_wrapper=dict(
                    type='OptimWrapper',
                    optimizer=dict(type='Adam', lr=training.lr)),
                param_scheduler=[],
                train_cfg=dict(
                    type='IterBasedTrainLoop',
                    max_iters=training.iters,
                    val_interval=interval),
                val_cfg=dict(type='ValLoop'),
                test_cfg=dict(type='TestLoop'),
                default_hooks=dict(
                    logger=dict(
                        type='LoggerHook',
                        interval=50,
                        log_metric_by_epoch=False),
                    checkpoint=dict(
                        type='CheckpointHook',
                        by_epoch=False,
                        interval=interval,
                        save_best='mIoU',
                        rule='greater',
                        max_keep_ckpts=1)),
                randomness=dict(seed=0)))
        return path

    def source_name(self, arch: str, data: SourceData) -> str:
        return f'{arch}_{data.name}'

    def write_configs(self) -> str:
        """Dataset and run configs and the benchmark spec; its path."""
        s = self.scenario
        target = self.dataset_config(
            'target', self._dataset(TARGET_CITY, None, 'labelled'),
            self._dataset(TARGET_CITY, None, 'heldout'), s.finetune.batch)
        finetunes = {
            arch:
            self.run_config(f'finetune_{arch}_target', arch, target, 19,
                            s.finetune)
            for arch in s.architectures
        }
        sources: List[dict] = []
        for data in s.source_data:
            task = s.task(data.task)
            classes = None if task.identity else task.classes
            dataset = self._dataset(data.name, classes)
            dataset_cfg = self.dataset_config(f'source_{data.name}', dataset,
                                              dict(dataset, indices=-10),
                                              s.training.batch)
            for arch in s.architectures:
                name = self.source_name(arch, data)
                sources.append(
                    dict(
                        name=name,
                        dataset=dataset_cfg,
                        config=self.run_config(f'source_{name}',
                                               arch, dataset_cfg,
                                               len(task.classes), s.training),
                        finetune_config=finetunes[arch]))
        spec = dict(
            sources=sources,
            targets=[dict(name='target', dataset=target)],
            finetune=dict(seeds=s.finetune.seeds),
            weighted=dict(
                dict(
                    metrics=['otce', 'leep', 'logme'],
                    sources='best',
                    seeds=s.finetune.seeds), **s.weighted),
            scoring=s.scoring,
            jobs=s.jobs)
        path = self.path('configs', 'benchmark.yaml')
        atomic_write_text(path, yaml.safe_dump(spec, sort_keys=False))
        return path

    def build(self) -> str:
        """Data and configs; returns the benchmark spec path."""
        os.makedirs(self.out_dir, exist_ok=True)
        self.write_data()
        return self.write_configs()


def scenario_digest(scenario: Scenario, seed: int) -> str:
    """Short identity of a scenario and seed (the default output folder)."""
    text = json.dumps([vars(scenario), seed], default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


__all__ = ['DemoBuilder', 'scenario_digest', 'pipelines', 'TARGET_CITY']

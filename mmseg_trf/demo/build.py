"""Write a scenario's data (Cityscapes layout), configs and benchmark spec.
"""
import json
import os
import os.path as osp
import shutil
from dataclasses import replace
from typing import Dict, List

import yaml

from ..fileio import atomic_write_text
from ..synthetic import write_cityscapes
from .models import model_base, model_overrides
from .scenario import Scenario, SourceData, Training
from .tasks import label_space

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
        # absolute, so configs (and the steps keyed by them) do not depend
        # on how the folder was named or where the tool was started
        self.out_dir = osp.abspath(out_dir)
        self.data_root = osp.join(self.out_dir, 'data', 'cityscapes')

    def path(self, *parts: str) -> str:
        return osp.join(self.out_dir, *parts)

    # Data --------------------------------------------------------------------
    def write_data(self) -> None:
        """Render every city folder whose recipe changed (or is new)."""
        s = self.scenario
        self._write_city(TARGET_CITY, s.target_labelled + s.target_heldout,
                         s.target_domain, None, self.seed * 1000)
        cities = list(dict.fromkeys(d.data_name for d in s.source_data))
        for data in s.source_data:
            task = s.task(data.task)
            self._write_city(
                data.data_name, s.source_images, data.domain,
                None if task.identity else task,
                self.seed * 1000 + 1 + cities.index(data.data_name))

    def _write_city(self, city: str, images: int, domain: str, task,
                    seed: int) -> None:
        """One city folder, unless this exact recipe is already there (a
        changed one is removed first, so no stale image stays)."""
        s = self.scenario
        recipe = json.dumps(
            dict(
                images=images,
                size=s.image_size,
                style=vars(s.style(domain)),
                task=task.table.tolist() if task else None,
                seed=seed),
            sort_keys=True,
            default=str)
        marker = osp.join(self.data_root, 'recipes', f'{city}.json')
        if osp.isfile(marker) and open(marker).read() == recipe:
            return
        for layout in ('leftImg8bit', 'gtFine'):
            shutil.rmtree(
                osp.join(self.data_root, layout, 'train', city),
                ignore_errors=True)
        write_cityscapes(
            self.data_root,
            'train',
            city,
            images,
            s.style(domain),
            s.image_size,
            seed=seed,
            label_map=task)
        atomic_write_text(marker, recipe)

    # Configs -------------------------------------------------------------
    def _dataset(self, city: str, classes, subset: str = None) -> dict:
        """A dataset of one city folder (a task other than the 19
        Cityscapes classes gets a BaseSegDataset with its class names; a
        target of fewer classes keeps its train ids and lets MMSeg's class
        subset map them)."""
        if subset is not None:
            target = dict(
                type='CityscapesCityDataset',
                data_root=self.data_root,
                city=city,
                subset=subset,
                num_labelled=self.scenario.target_labelled)
            if self.scenario.target_classes:
                target['metainfo'] = dict(
                    classes=tuple(self.scenario.target_classes))
            return target
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
                        # two: MMEngine deletes the older before writing
                        # the next; a run stopped between keeps one
                        max_keep_ckpts=2)),
                randomness=dict(seed=0)))
        return path

    @staticmethod
    def protocol_options(training: Training) -> Dict:
        """``--cfg-options`` turning a run config into another protocol
        (budget, learning rate, validation and checkpoint interval)."""
        interval = training.val_interval or training.iters
        return {
            'train_cfg.max_iters': training.iters,
            'train_cfg.val_interval': interval,
            'default_hooks.checkpoint.interval': interval,
            'optim_wrapper.optimizer.lr': training.lr
        }

    def source_name(self, arch: str, data: SourceData) -> str:
        return f'{arch}_{data.name}'

    def write_configs(self) -> str:
        """Dataset and run configs and the benchmark spec; its path."""
        s = self.scenario
        target = self.dataset_config(
            'target', self._dataset(TARGET_CITY, None, 'labelled'),
            self._dataset(TARGET_CITY, None, 'heldout'), s.finetune.batch)
        classes = len(s.target_classes or label_space('cityscapes19').classes)
        finetunes = {
            arch:
            self.run_config(f'finetune_{arch}_target', arch, target, classes,
                            s.finetune)
            for arch in s.architectures
        }
        sources: List[dict] = []
        for data in s.source_data:
            task = s.task(data.task)
            dataset = self._dataset(data.data_name,
                                    None if task.identity else task.classes)
            dataset_cfg = self.dataset_config(f'source_{data.data_name}',
                                              dataset,
                                              dict(dataset, indices=-10),
                                              s.training.batch)
            training = replace(
                s.training, iters=data.training_iters or s.training.iters)
            for arch in data.architectures or s.architectures:
                name = self.source_name(arch, data)
                sources.append(
                    dict(
                        name=name,
                        architecture=arch,
                        dataset=dataset_cfg,
                        config=self.run_config(f'source_{name}',
                                               arch, dataset_cfg,
                                               len(task.classes), training),
                        finetune_config=finetunes[arch]))
        spec = dict(
            sources=sources,
            targets=[dict(name='target', dataset=target)],
            finetune=dict(
                seeds=s.finetune.seeds,
                proxies={
                    name: self.protocol_options(proxy)
                    for name, proxy in s.proxies.items()
                }),
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


__all__ = ['DemoBuilder', 'pipelines', 'TARGET_CITY']

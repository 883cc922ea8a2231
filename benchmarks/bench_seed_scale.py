"""Benchmark at the seed papers' own sizes, on features of a trained model.

    python benchmarks/bench_seed_scale.py [--work-dir DIR]
        [--stages NAME ...] [--train-iters N] [--out FILE]

The user's case: Cityscapes-size labels (1024 x 2048, map grid 512 x 1024 =
524,288 cells, 32,768 patches of 4 x 4), 20 target + 20 source images, a
decode head with 512 pre-classifier channels and 19-class logits, and
N = 10,000 pixels x K = 10 repetitions.

Setup (cached in the work dir): scenes of two domains are rendered at
1024 x 2048 in the Cityscapes layout (target city and source), and a PSPNet
head with 512 channels on a narrow ResNet-18 is trained on small source
scenes, so every feature comes from a trained model, never from random
blobs. Each stage then runs in a fresh process, so its peak resident memory
(``ru_maxrss``, model and libraries included) is its own:

* ``map-<metric>-<layer>``: :class:`mmseg_trf.maps.builder.MapBuilder` at the
  grid (feature extraction and patch scoring timed apart);
  ``map-logme-pre_logits`` runs on smaller grids and its time is fitted
  linearly in the number of patches (per-patch work is constant);
* ``otce``: OTCE at N = 10,000 per side on trained-model logits, the default
  ``sparse_emd`` beside POT's dense ``ot.emd`` on the same pixels, and the
  other metrics over K = 10 repetitions;
* ``full``: one ``--sampler full`` pass (every labelled pixel) over a few
  images, extrapolated to 20.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE = (1024, 2048)
IMAGES = 20
CHANNELS = 512
MAP_STAGES = ('map-leep-logits', 'map-logme-logits', 'map-otce-logits',
              'map-logme-pre_logits')
STAGES = MAP_STAGES + ('otce', 'full')
#: Smaller grids of the fitted stage (its full grid takes hours on 2 cores).
FIT_SHAPES = ((64, 128), (128, 256))


def peak_rss_mb(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 1024


def model_config(work_dir):
    """A PSPNet head of 512 channels on a narrow ResNet-18 (19 classes)."""
    path = osp.join(work_dir, 'pspnet_512.py')
    with open(path, 'w') as f:
        f.write(f'''_base_ = ['mmseg::_base_/models/pspnet_r50-d8.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(256, 512)),
    backbone=dict(depth=18, stem_channels=16, base_channels=16,
                  norm_cfg=norm_cfg),
    decode_head=dict(in_channels=128, channels={CHANNELS}, num_classes=19,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=32, num_classes=19,
                        norm_cfg=norm_cfg))
''')
    return path


def dataset_cfg(root, city, scale=SIZE, train=False):
    pipeline = [dict(type='LoadImageFromFile')]
    if train:
        pipeline += [
            dict(type='LoadAnnotations'),
            dict(type='RandomCrop', crop_size=(256, 512)),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs')
        ]
    else:
        pipeline += [
            dict(type='Resize', scale=scale[::-1], keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')
        ]
    return dict(
        type='CityscapesDataset',
        data_root=root,
        data_prefix=dict(
            img_path=f'leftImg8bit/train/{city}',
            seg_map_path=f'gtFine/train/{city}'),
        pipeline=pipeline)


def setup(work_dir, train_iters):
    """Render the scenes and train the model (both cached)."""
    from mmseg_trf.synthetic import SceneStyle, write_cityscapes
    data = osp.join(work_dir, 'data')
    target_style = SceneStyle()
    source_style = SceneStyle(
        palette_shift=0.3, brightness=15, noise_std=9, horizon=0.5)
    for city, style, size, count, seed in (
        ('aachen', target_style, SIZE, IMAGES, 0),
        ('source', source_style, SIZE, IMAGES, 1),
        ('train', source_style, (512, 1024), 60, 2),
    ):
        if not osp.isdir(osp.join(data, 'leftImg8bit', 'train', city)):
            print(f'rendering {count} {city} scenes at {size}', flush=True)
            write_cityscapes(data, 'train', city, count, style, size, seed)
    checkpoint = osp.join(work_dir, f'pspnet_512_iter{train_iters}.pth')
    if not osp.isfile(checkpoint):
        train(
            model_config(work_dir), dataset_cfg(data, 'train', train=True),
            train_iters, checkpoint)
    return data, checkpoint


def train(config, dataset, iters, checkpoint):
    """A plain Adam loop on random crops (features of a trained model)."""
    import torch
    from mmengine.dataset import pseudo_collate

    from mmseg_trf.apis import load_segmentor
    from mmseg_trf.pixels import build_dataset
    model = load_segmentor(config).train()
    data = build_dataset(dataset)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for step in range(iters):
        batch = model.data_preprocessor(
            pseudo_collate(
                [data[int(i)] for i in rng.integers(0, len(data), 4)]), True)
        losses = model(**batch, mode='loss')
        loss = sum(v for k, v in losses.items()
                   if k.startswith('decode.loss') or k.startswith('aux.loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 0 or step == iters - 1:
            print(
                f'train {step + 1}/{iters}: loss {loss.item():.3f} '
                f'acc {float(losses["decode.acc_seg"]):.1f}% '
                f'({time.perf_counter() - start:.0f} s)',
                flush=True)
    torch.save(model.state_dict(), checkpoint)


def run_map_stage(args, metric, layer):
    from mmseg_trf.apis import ScoringSettings, load_segmentor
    from mmseg_trf.maps import MapSettings
    from mmseg_trf.maps.builder import MapBuilder
    from mmseg_trf.pixels import build_dataset
    model = load_segmentor(model_config(args.work_dir), args.checkpoint)
    target = build_dataset(dataset_cfg(args.data, 'aachen'))
    source = build_dataset(dataset_cfg(args.data, 'source'))
    base = peak_rss_mb()
    shapes = FIT_SHAPES if layer == 'pre_logits' else ((512, 1024), )
    rows = []
    for shape in shapes:
        start = time.perf_counter()
        builder = MapBuilder(
            ScoringSettings(metrics=()),
            MapSettings(metric, map_shape=shape, layer=layer))
        with tempfile.TemporaryDirectory(dir=args.work_dir) as folder:
            result = builder.build(model, 'bench', target,
                                   source if metric == 'otce' else None,
                                   folder).transfer_map
        rows.append(
            dict(
                map_shape=list(shape),
                patches=int(result.transferability.size),
                extract_s=result.meta['extract_seconds'],
                score_s=result.meta['score_seconds'],
                wall_s=time.perf_counter() - start,
                finite=bool(np.isfinite(result.transferability).all())))
    return dict(
        rows=rows,
        model_rss_mb=base,
        peak_rss_mb=peak_rss_mb(),
        worker_peak_rss_mb=peak_rss_mb(resource.RUSAGE_CHILDREN))


def run_otce_stage(args):
    import torch

    from mmseg_trf.apis import ScoringSettings, load_segmentor
    from mmseg_trf.metrics import hscore, leep, logme, otce
    from mmseg_trf.pixels import ArrayCache, build_dataset, sampled_pixels
    from mmseg_trf.sampling import SamplingSettings
    model = load_segmentor(model_config(args.work_dir), args.checkpoint)
    settings = ScoringSettings(
        sampling=SamplingSettings('uniform', 10000, 10, seed=0))
    cache = ArrayCache(osp.join(args.work_dir, 'cache'))
    start = time.perf_counter()
    target = sampled_pixels(model, 'bench',
                            build_dataset(dataset_cfg(args.data, 'aachen')),
                            settings.sampling, cache, 'target')
    source = sampled_pixels(model, 'bench',
                            build_dataset(dataset_cfg(args.data, 'source')),
                            settings.sampling, cache, 'source', 20)
    extract = time.perf_counter() - start
    del model
    torch.set_num_threads(2)
    out = dict(extract_s=extract, solvers={}, metrics={})
    for solver in ('sparse_emd', 'emd'):
        times, values = [], []
        for rep in range(args.otce_reps):
            tic = time.perf_counter()
            values.append(
                otce(
                    source.features('logits', rep),
                    source.labels(rep),
                    target.features('logits', rep),
                    target.labels(rep),
                    solver=solver))
            times.append(time.perf_counter() - tic)
        out['solvers'][solver] = dict(seconds=times, values=values)
    for name, fn, data in (('leep', leep, target.probs),
                           ('logme', logme,
                            lambda r: target.features('logits', r)),
                           ('hscore', hscore,
                            lambda r: target.features('logits', r))):
        tic = time.perf_counter()
        values = [fn(data(r), target.labels(r)) for r in range(10)]
        out['metrics'][name] = dict(
            seconds_k10=time.perf_counter() - tic, mean=float(np.mean(values)))
    out['peak_rss_mb'] = peak_rss_mb()
    return out


def run_full_stage(args):
    from mmseg_trf.apis import ScoringSettings, load_segmentor
    from mmseg_trf.pixels import build_dataset
    from mmseg_trf.pixels.scores import full_pixel_scores
    from mmseg_trf.sampling import SamplingSettings
    model = load_segmentor(model_config(args.work_dir), args.checkpoint)
    dataset = build_dataset(
        dict(dataset_cfg(args.data, 'aachen'), indices=args.full_images))
    out = {}
    for layer in ('logits', 'pre_logits'):
        settings = ScoringSettings(
            metrics=('leep', 'logme', 'hscore'),
            sampling=SamplingSettings('full'),
            layer=layer)
        tic = time.perf_counter()
        full_pixel_scores(model, dataset, settings.metrics, settings)
        seconds = time.perf_counter() - tic
        out[layer] = dict(
            images=args.full_images,
            seconds=seconds,
            per_20_images_s=seconds / args.full_images * IMAGES)
    out['peak_rss_mb'] = peak_rss_mb()
    return out


def run_stage(args):
    if args.stage in MAP_STAGES:
        _, metric, layer = args.stage.split('-', 2)
        return run_map_stage(args, metric, layer)
    return run_otce_stage(args) if args.stage == 'otce' else run_full_stage(
        args)


def table(results):
    lines = [
        '| stage | grid | patches | features | patches scored | peak RSS '
        '(main / each worker) |', '|---|---|---|---|---|---|'
    ]
    for stage in MAP_STAGES:
        if stage not in results:
            continue
        res = results[stage]
        for row in res['rows']:
            lines.append(f'| {stage} | {row["map_shape"][0]} x '
                         f'{row["map_shape"][1]} | {row["patches"]:,} | '
                         f'{row["extract_s"]:.1f} s | {row["score_s"]:.1f} s '
                         f'| {res["peak_rss_mb"] / 1024:.2f} / '
                         f'{res.get("worker_peak_rss_mb", 0) / 1024:.2f} GB |')
        if len(res['rows']) > 1:
            rate = np.polyfit([r['patches'] for r in res['rows']],
                              [r['score_s'] for r in res['rows']], 1)
            lines.append(f'| {stage} (fit) | 512 x 1024 | 32,768 | - | '
                         f'{np.polyval(rate, 32768) / 60:.0f} min | - |')
    if 'otce' in results:
        res = results['otce']
        lines += [
            '', '| OTCE, N = 10,000 per side, trained logits | seconds per '
            'repetition | OTCE |', '|---|---|---|'
        ]
        for solver, row in res['solvers'].items():
            lines.append(f'| {solver} | ' +
                         ', '.join(f'{s:.2f}' for s in row['seconds']) +
                         ' | ' + ', '.join(f'{v:.6f}'
                                           for v in row['values']) + ' |')
        for name, row in res['metrics'].items():
            lines.append(f'| {name} (K = 10) | {row["seconds_k10"] / 10:.2f} '
                         f'| {row["mean"]:.6f} |')
        lines.append(f'| pool extraction (20 + 20 images) | '
                     f'{res["extract_s"]:.1f} | - |')
    if 'full' in results:
        res = results['full']
        lines += [
            '', '| full sampler, one pass | measured | per 20 images |',
            '|---|---|---|'
        ]
        for layer in ('logits', 'pre_logits'):
            row = res[layer]
            lines.append(f'| {layer} | {row["seconds"]:.1f} s for '
                         f'{row["images"]} images | '
                         f'{row["per_20_images_s"] / 60:.1f} min |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/seed_scale')
    parser.add_argument(
        '--stages', nargs='+', default=list(STAGES), choices=STAGES)
    parser.add_argument('--train-iters', type=int, default=300)
    parser.add_argument('--otce-reps', type=int, default=2)
    parser.add_argument('--full-images', type=int, default=2)
    parser.add_argument('--out', help='also write the results (JSON)')
    parser.add_argument('--stage', help=argparse.SUPPRESS)
    parser.add_argument('--data', help=argparse.SUPPRESS)
    parser.add_argument('--checkpoint', help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    import mmseg_trf  # noqa: F401  registers the package's modules
    if args.stage:
        print('RESULT ' + json.dumps(run_stage(args)), flush=True)
        return
    os.makedirs(args.work_dir, exist_ok=True)
    data, checkpoint = setup(args.work_dir, args.train_iters)
    results = {}
    for stage in args.stages:
        print(f'== {stage}', flush=True)
        proc = subprocess.run([
            sys.executable, __file__, '--stage', stage, '--work-dir',
            args.work_dir, '--data', data, '--checkpoint', checkpoint,
            '--otce-reps',
            str(args.otce_reps), '--full-images',
            str(args.full_images)
        ],
                              stdout=subprocess.PIPE,
                              text=True)
        lines = [
            line for line in proc.stdout.splitlines()
            if line.startswith('RESULT ')
        ]
        if proc.returncode or not lines:
            print(proc.stdout[-3000:])
            raise SystemExit(f'stage {stage} failed')
        results[stage] = json.loads(lines[-1][len('RESULT '):])
        print(json.dumps(results[stage]), flush=True)
    print(table(results))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()

"""Scoring sources: reproducibility, the feature cache, failures, reports."""
import json
import math
import os
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image

from mmseg_trf.apis import (ScoringSettings, SourceSpec, dataset_config,
                            score_sources, write_reports, zoo_sources)
from mmseg_trf.sampling import SamplingSettings
from . import tiny_models
from .workspace import make_workspace, write_source

METRICS = ['otce', 'leep', 'logme', 'hscore', 'nce']
pools_module = sys.modules['mmseg_trf.pixels.pools']


@pytest.fixture(scope='module')
def workspace(tmp_path_factory, cityscapes_root):
    return make_workspace(str(tmp_path_factory.mktemp('ws')), cityscapes_root)


def settings(n=300, k=3, metrics=METRICS, **kw):
    return ScoringSettings(
        metrics=metrics,
        sampling=SamplingSettings(
            num_pixels=n, repetitions=k, pool_size=1200, **kw),
        source_images=2)


def specs(workspace):
    return [SourceSpec(**s) for s in workspace['sources']]


@pytest.fixture
def extractions(monkeypatch):
    calls = []
    original = pools_module.run_pass

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(pools_module, 'run_pass', counting)
    return calls


def scores(results):
    return {(r.name, m): v.mean for r in results for m, v in r.metrics.items()}


def test_every_metric_scores_every_source(workspace, tmp_path):
    results = score_sources(
        specs(workspace), dataset_config(workspace['target']), settings(),
        str(tmp_path))
    for r in results:
        assert r.error is None
        for name in METRICS:
            assert r.metrics[name].error is None, r.metrics[name].error
            assert math.isfinite(r.metrics[name].mean)
            assert r.metrics[name].std >= 0


def test_same_seed_same_scores(workspace, tmp_path):
    target = dataset_config(workspace['target'])
    first = score_sources(
        specs(workspace), target, settings(), str(tmp_path / 'a'))
    second = score_sources(
        specs(workspace), target, settings(), str(tmp_path / 'b'))
    other = score_sources(
        specs(workspace)[:1], target, settings(seed=5), str(tmp_path / 'c'))
    assert scores(first) == scores(second)
    assert scores(other)[('fcn_a', 'hscore')] != scores(first)[('fcn_a',
                                                                'hscore')]


def test_cache_serves_other_metrics_and_n(workspace, tmp_path, extractions):
    target = dataset_config(workspace['target'])
    sources = specs(workspace)[:1]
    score_sources(sources, target, settings(metrics=['logme', 'otce']),
                  str(tmp_path))
    assert len(extractions) == 2  # target and source pixels
    score_sources(sources, target,
                  settings(n=100, metrics=['hscore', 'leep', 'otce']),
                  str(tmp_path))
    assert len(extractions) == 2


def test_cache_invalidated_by_checkpoint_and_dataset(workspace, tmp_path,
                                                     extractions,
                                                     cityscapes_root):
    target = dataset_config(workspace['target'])
    folder = tmp_path / 'src'
    folder.mkdir()
    config, checkpoint = write_source(str(folder), 'm', tiny_models.fcn(), 1)
    source = [SourceSpec('m', config, checkpoint)]

    def run():
        score_sources(source, target, settings(metrics=['hscore']),
                      str(tmp_path / 'cache'))

    run()
    run()
    assert len(extractions) == 1
    write_source(str(folder), 'm', tiny_models.fcn(), 2)  # new weights
    run()
    assert len(extractions) == 2
    label = osp.join(cityscapes_root, 'gtFine', 'train', 'aachen',
                     'aachen_000000_000019_gtFine_labelTrainIds.png')
    stat = os.stat(label)
    os.utime(label, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    run()
    assert len(extractions) == 2  # touched, same contents: still cached
    original = open(label, 'rb').read()
    try:
        labels = np.array(Image.open(label))
        labels[0, 0] = 1 - min(labels[0, 0], 1)
        Image.fromarray(labels).save(label)
        os.utime(label, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        run()  # a rewritten label, mtime restored: never stale
        assert len(extractions) == 3
    finally:
        with open(label, 'wb') as f:
            f.write(original)
    run()  # the original contents again: their features are cached
    assert len(extractions) == 3


def test_failures_are_reported_per_source(workspace, tmp_path):
    folder = tmp_path / 'bad'
    folder.mkdir()
    good = specs(workspace)[0]
    wrong_classes_cfg, wrong_classes_ckpt = write_source(
        str(folder), 'seven', tiny_models.fcn(num_classes=7), 1)
    broken_cfg = folder / 'broken.py'
    broken_cfg.write_text("model = dict(type='NoSuchSegmentor')\n")
    sources = [
        good,
        SourceSpec('missing', good.config, str(folder / 'gone.pth')),
        SourceSpec('broken', str(broken_cfg), good.checkpoint),
        SourceSpec('mismatch', good.config, wrong_classes_ckpt),
        SourceSpec('no_dataset', good.config, good.checkpoint),
    ]
    results = {
        r.name: r
        for r in score_sources(sources, dataset_config(workspace['target']),
                               settings(), str(tmp_path / 'cache'))
    }
    assert results['fcn_a'].error is None
    assert 'gone.pth' in results['missing'].error
    assert 'NoSuchSegmentor' in results['broken'].error
    assert 'broken.py' in results['broken'].error
    assert 'class-count mismatch' in results['mismatch'].error
    assert 'no source dataset' in results['no_dataset'].metrics['otce'].error
    assert results['no_dataset'].metrics['leep'].error is None
    written = write_reports(
        list(results.values()), METRICS, str(tmp_path / 'report'), {})
    table = open(written['markdown']).read()
    for name in results:
        assert name in table
    assert 'failed' in table and 'gone.pth' in table


def test_source_dataset_with_other_classes(workspace, tmp_path):
    good = specs(workspace)[0]
    folder = tmp_path / 'cfg'
    folder.mkdir()
    ade = folder / 'ade.py'
    ade.write_text('trf_dataset = ' + repr(
        dict(
            dataset_config(good.dataset),
            type='ADE20KDataset',
            img_suffix='_leftImg8bit.png',
            seg_map_suffix='_gtFine_labelTrainIds.png')) + '\n')
    source = SourceSpec('fcn_ade', good.config, good.checkpoint, str(ade))
    result, = score_sources([source], dataset_config(workspace['target']),
                            settings(metrics=['otce', 'leep']),
                            str(tmp_path / 'c'))
    assert 'class-count mismatch' in result.metrics['otce'].error
    assert result.metrics['leep'].error is None


def test_empty_target_dataset_is_a_clear_error(workspace, tmp_path):
    target = dict(dataset_config(workspace['target']))
    target['data_prefix'] = dict(
        img_path='leftImg8bit/test', seg_map_path='gtFine/test')
    os.makedirs(
        osp.join(target['data_root'], 'leftImg8bit', 'test'), exist_ok=True)
    with pytest.raises(ValueError, match='has no images'):
        score_sources(specs(workspace), target, settings(), str(tmp_path))


def test_reports_with_ground_truth(workspace, tmp_path):
    results = score_sources(
        specs(workspace), dataset_config(workspace['target']),
        settings(metrics=['hscore', 'leep']), str(tmp_path / 'cache'))
    written = write_reports(results, ['hscore', 'leep'], str(tmp_path), {})
    assert set(written) == {'markdown', 'csv', 'json', 'plot'}
    table = open(written['markdown']).read()
    assert 'spearman' in table and 'relative_top1' in table
    from PIL import Image
    assert Image.open(written['plot']).size[0] > 300


def test_full_pixel_streaming_matches_in_memory(workspace, tmp_path):
    """sampler='full' streams every pixel; it equals the in-memory metric on
    the same pixels (the 'full' pool through the sampled path)."""
    spec = specs(workspace)[0]
    target = dataset_config(workspace['target'])
    streamed, = score_sources([spec], target,
                              ScoringSettings(
                                  metrics=['hscore', 'logme', 'leep', 'nce'],
                                  sampling=SamplingSettings('full')),
                              str(tmp_path / 'a'))
    import mmseg_trf.metrics as M
    from mmseg_trf.apis import load_segmentor
    from mmseg_trf.pixels import ArrayCache, build_dataset, sampled_pixels
    model = load_segmentor(spec.config, spec.checkpoint)
    data = sampled_pixels(model, 'k', build_dataset(target),
                          SamplingSettings('full'),
                          ArrayCache(str(tmp_path / 'b')), 'target')
    logits, labels = data.features('logits', 0), data.labels(0)
    expected = dict(
        hscore=M.hscore(logits, labels),
        logme=M.logme(logits, labels),
        leep=M.leep(data.probs(0), labels),
        nce=M.nce(data.probs(0), labels))
    for name, value in expected.items():
        assert streamed.metrics[name].mean == pytest.approx(value, rel=1e-6)
    assert streamed.metrics['hscore'].std == 0


def test_zoo_selection_reads_mmseg_metafiles():
    picked = zoo_sources(['FCN', 'PSPNet'], 'Cityscapes')
    names = {s.name for s in picked}
    assert 'fcn_r50-d8_4xb2-40k_cityscapes-512x1024' in names
    assert any(n.startswith('pspnet_') for n in names)
    assert all(s.config.startswith('mmseg::') for s in picked)
    assert all(s.checkpoint.startswith('https://') for s in picked)
    assert not any('ade20k' in n for n in names)
    fcn = next(s for s in picked
               if s.name == 'fcn_r50-d8_4xb2-40k_cityscapes-512x1024')
    assert fcn.source_miou == pytest.approx(0.7225)  # the metafile's mIoU
    assert fcn.architecture == 'FCN'  # its collection
    from mmseg_trf.apis import load_config
    cfg = load_config(picked[0].config)
    assert cfg.model.decode_head.num_classes == 19


def test_ccfv_groups_pixels_by_their_image(workspace, tmp_path, monkeypatch):
    seen = []
    from mmseg_trf.metrics import METRICS
    real = METRICS['ccfv']

    def recording(features, labels, images):
        seen.append(images)
        return real.fn(features, labels, images)

    monkeypatch.setitem(METRICS, 'ccfv',
                        real.__class__(**dict(vars(real), fn=recording)))
    results = score_sources(
        specs(workspace)[:1], dataset_config(workspace['target']),
        settings(metrics=['ccfv']), str(tmp_path))
    assert results[0].metrics['ccfv'].error is None
    assert math.isfinite(results[0].metrics['ccfv'].mean)
    assert len(seen) == 3 and all(len(set(i)) > 1 for i in seen)


def test_one_architecture_with_ground_truth_writes_its_ranking(tmp_path):
    """Equal parameter counts make the static prior constant: it is marked
    undefined and the ranking, correlations and plot are all written."""
    from mmseg_trf.apis import MetricResult, SourceResult
    results = [
        SourceResult(
            f's{i}',
            miou,
            metrics=dict(leep=MetricResult(-i, 0.0, values=[-i, -i])),
            parameters=1000) for i, miou in enumerate((0.5, 0.4, 0.3, 0.2))
    ]
    written = write_reports(results, ['leep'], str(tmp_path), {})
    data = json.loads(open(written['json']).read())
    assert [s['name'] for s in data['sources']] == ['s0', 's1', 's2', 's3']
    prior = data['correlations']['prior: parameter count']
    assert prior['spearman'] is None or np.isnan(prior['spearman'])
    assert data['correlations']['leep']['spearman'] == pytest.approx(1.0)
    assert osp.isfile(written['plot'])
    assert '| prior: parameter count | - ' in open(written['markdown']).read()


def test_correlations_without_intervals_keep_every_point_value():
    """The study's reports drop the per-run bootstrap intervals (most of
    their time); every other value stays the same."""
    from mmseg_trf.apis import MetricResult, SourceResult
    from mmseg_trf.apis.report import correlations
    results = [
        SourceResult(
            f's{i}',
            miou,
            metrics=dict(leep=MetricResult(score, 0.0, values=[score] * 2)),
            parameters=1000 * (i + 1),
            source_miou=0.1 * i) for i, (miou, score) in enumerate(
                zip((0.5, 0.2, 0.4, 0.3, 0.1), (3.0, 1.0, 2.5, 0.5, 0.7)))
    ]
    full = correlations(results, ['leep'])
    bare = correlations(results, ['leep'], intervals=False)
    assert any(k.endswith('_ci') for k in full['leep'])
    assert full.keys() == bare.keys()
    for name, row in full.items():
        points = {k: v for k, v in row.items() if not k.endswith('_ci')}
        np.testing.assert_equal(bare[name], points)


def test_a_written_history_reads_back_as_the_prior_and_the_gains(tmp_path):
    """Each source's ground truth is the mean over its seeds of each
    curve's best; a target with one source is left out, and nothing is
    written where no target is left."""
    from fractions import Fraction

    from mmseg_trf.apis.scoring import (read_architecture_history,
                                        read_gain_history, read_history,
                                        write_history)
    path = str(tmp_path / 'history.yaml')
    fcn = [[(50, 0.1), (100, 0.3)], [(50, 0.2), (100, 0.25)]]
    unet = [[(50, 0.2), (100, 0.2)]]
    past = {'aachen': [('fcn', fcn), ('unet', unet)], 'bonn': [('fcn', fcn)]}
    assert write_history(path, past) == ['aachen']
    target, = read_history(path)
    assert [(e['architecture'], e['miou'], e['curves'])
            for e in target] == [('fcn', 0.275, fcn), ('unet', 0.2, unet)]
    assert read_architecture_history(path) == dict(fcn=1.0, unet=0.5)
    # three runs, pooled (under four per family): ratios 3.0, 1.25 and 1.0
    assert read_gain_history(path).gain('fcn',
                                        Fraction(1, 2)) == pytest.approx(1.25)
    nothing = tmp_path / 'none.yaml'
    assert write_history(str(nothing), {'bonn': [('fcn', fcn)]}) == []
    assert not nothing.exists()

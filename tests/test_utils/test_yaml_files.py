"""Strict YAML reading: a key given twice is refused, not overwritten."""
import pytest

from mmseg_trf.benchmark import BenchmarkSpec
from mmseg_trf.utils import read_yaml


def test_unique_keys_read_as_yaml_and_json(tmp_path):
    path = tmp_path / 'truth.yaml'
    path.write_text('a: 0.4\nb: {x: 1, y: [1, 2]}\n')
    assert read_yaml(str(path)) == dict(a=0.4, b=dict(x=1, y=[1, 2]))
    path.write_text('{"a": 0.4, "b": 0.5}')
    assert read_yaml(str(path)) == dict(a=0.4, b=0.5)


@pytest.mark.parametrize('text, line', [
    ('a: 0.4\nb: 0.5\na: 0.6\n', 'lines 1 and 3'),
    ('- name: s\n  config: c.py\n  name: t\n', 'lines 1 and 3'),
    ('{"a": 1, "a": 2}', 'lines 1 and 1'),
])
def test_a_key_given_twice_is_named_with_its_lines(tmp_path, text, line):
    path = tmp_path / 'f.yaml'
    path.write_text(text)
    with pytest.raises(ValueError, match='given twice') as err:
        read_yaml(str(path))
    assert str(path) in str(err.value) and line in str(err.value)


def test_specs_are_read_strictly(tmp_path):
    path = tmp_path / 'spec.yaml'
    path.write_text('sources: []\ntargets: []\njobs: 1\njobs: 2\n')
    with pytest.raises(ValueError, match="'jobs' is given twice"):
        BenchmarkSpec.from_file(str(path))

"""YAML files (sources, ground truth, specs, scenarios) read strictly: a key
given twice in one mapping is an error, not a silent overwrite."""
import yaml


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys in a mapping."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    'while reading a mapping', node.start_mark,
                    f'key {key!r} is given twice (lines '
                    f'{seen[key] + 1} and {key_node.start_mark.line + 1}); '
                    'which one is meant is ambiguous', key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str):
    """A YAML (or JSON) file's contents; a duplicate key is a
    ``ValueError`` naming the file, the key and both lines."""
    with open(path) as f:
        try:
            return yaml.load(f, Loader=_UniqueKeyLoader)
        except yaml.constructor.ConstructorError as err:
            raise ValueError(f'{path}: {err}') from None


__all__ = ['read_yaml']

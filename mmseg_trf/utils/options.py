"""Command-line ``KEY=VALUE`` options that name a malformed entry."""
from mmengine.config import DictAction


class KeyValueAction(DictAction):
    """MMEngine's ``DictAction`` (``--cfg-options a.b=1 c=[1,2]``), with an
    entry that is not ``KEY=VALUE`` refused by the parser with its option
    and value instead of an unpacking error."""

    def __call__(self, parser, namespace, values, option_string=None):
        for value in values:
            key = value.split('=', 1)[0]
            if '=' not in value or not key.strip():
                parser.error(f'{option_string}: {value!r} is not KEY=VALUE '
                             '(e.g. model.test_cfg.mode=whole)')
        super().__call__(parser, namespace, values, option_string)


__all__ = ['KeyValueAction']

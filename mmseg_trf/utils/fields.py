"""Checked construction of the dataclasses that YAML files describe."""
from dataclasses import fields
from typing import Type, TypeVar

T = TypeVar('T')


def checked_fields(cls: Type, data, where: str) -> dict:
    """``data`` if it is a mapping whose keys are fields of ``cls``; else a
    ``ValueError`` naming ``where``, the unknown keys and the known ones.

    Args:
        cls (type): A dataclass.
        data: Parsed YAML.
        where (str): Where ``data`` comes from, for the message.

    Returns:
        dict: ``data``.
    """
    names = sorted(f.name for f in fields(cls))
    if not isinstance(data, dict):
        raise ValueError(f'{where}: expected a mapping with keys {names}, '
                         f'got {data!r}')
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f'{where}: unknown keys {unknown}; known: {names}')
    return data


def build_checked(cls: Type[T], data, where: str) -> T:
    """``cls(**data)`` after :func:`checked_fields`, with missing required
    fields named."""
    try:
        return cls(**checked_fields(cls, data, where))
    except TypeError as err:
        raise ValueError(f'{where}: {err}') from None


__all__ = ['checked_fields', 'build_checked']

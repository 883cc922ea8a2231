"""Checks of user-given settings that name the setting and the value (no
MMSeg import): a count given as text or a negative interval is refused
where it enters, not by a comparison deep inside."""
import math
import numbers
from typing import Optional


def check_number(name: str,
                 value,
                 minimum: Optional[float] = None,
                 integer: bool = False,
                 optional: bool = False):
    """``value`` if it is a number (an integer when ``integer``) of at
    least ``minimum``; ``None`` when ``optional`` allows it; else a
    ``ValueError`` that names the setting, the value and what is allowed.

    Args:
        name (str): The setting's name.
        value: Its value.
        minimum (float, optional): The least allowed value.
        integer (bool): Whether it must be an integer.
        optional (bool): Whether ``None`` is allowed.

    Returns:
        The value.
    """
    if value is None and optional:
        return value
    kind = numbers.Integral if integer else numbers.Real
    wanted = 'an integer' if integer else 'a number'
    if minimum is not None:
        wanted += f' >= {minimum}'
    if optional:
        wanted += ' or None'
    valid = (not isinstance(value, bool) and isinstance(value, kind)
             and (integer or math.isfinite(value))
             and (minimum is None or value >= minimum))
    if not valid:
        raise ValueError(f'{name} must be {wanted}, got {value!r}')
    return value


__all__ = ['check_number']

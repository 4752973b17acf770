"""Dataclass fields that hold a command-line option: the option's name travels with the field.

``x: int = option("fusion_layers", to_int)`` declares a field read from the option ``fusion_layers``;
:func:`build` fills every such field of a dataclass from a ``name -> value`` mapping (the values of
:func:`onmt_moe.plugin.encoder_config.plugin_values`, where the defaults are the declared ones), converting
each value and naming the option when it cannot be converted. Defaults are never written here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


def option(name: str, convert: Callable[[Any], Any]):
    """A dataclass field read from option ``name`` through ``convert`` (no default of its own)."""
    return dataclasses.field(metadata={"option": name, "convert": convert})


def option_fields(cls) -> dict[str, str]:
    """``field name -> option name`` of the fields of dataclass ``cls`` that hold an option."""
    return {f.name: f.metadata["option"] for f in dataclasses.fields(cls) if "option" in f.metadata}


def build(cls, values: Mapping[str, Any], **others):
    """``cls(**others, <every option field from values>)``; a value that does not convert raises
    ValueError naming its option."""
    kwargs = dict(others)
    for f in dataclasses.fields(cls):
        if "option" not in f.metadata:
            continue
        name, value = f.metadata["option"], values[f.metadata["option"]]
        try:
            kwargs[f.name] = f.metadata["convert"](value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {value!r} is not a valid {f.metadata['convert'].__doc__}") from None
    return cls(**kwargs)


def to_int(v) -> int:
    """integer"""
    if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError(v)
    return int(v)


def to_float(v) -> float:
    """number"""
    if isinstance(v, bool):
        raise ValueError(v)
    return float(v)


def to_bool(v) -> bool:
    """true/false value"""
    if isinstance(v, str):
        if v.strip().lower() in ("true", "yes", "on", "1"):
            return True
        if v.strip().lower() in ("false", "no", "off", "0", ""):
            return False
        raise ValueError(v)
    if isinstance(v, (bool, int)) and v in (0, 1):
        return bool(v)
    raise ValueError(v)


def to_str(v) -> str:
    """string (or number)"""
    if isinstance(v, (list, tuple, dict)):
        raise ValueError(v)
    return str(v)


def _items(v):
    return v.replace(",", " ").split() if isinstance(v, str) else list(v)


def to_ints(v) -> tuple[int, ...]:
    """list of integers"""
    return tuple(to_int(x) for x in _items(v))


def to_strs(v) -> tuple[str, ...]:
    """list of names"""
    return tuple(to_str(x) for x in _items(v))

"""Turn plain YAML data into frozen, typed dataclasses, or say exactly what is wrong.

Every settings section of fscc is a frozen dataclass whose type hints are the schema.
`build(cls, data)` walks the hints and the data together, so a wrong value is reported
with its key path (`acd.queues.billing.strategy`), the YAML line it came from, what was
expected and what came. All problems are collected before raising, so one run of
`fscc conf check` shows them all. Pure: standard library only.

Supported hints: str, int, float, bool, Path, Enum subclasses (by value), Literal[...],
Optional[X] / X | None, tuple[X, ...], list[X] (stored as a tuple), dict[str, X]
(stored as a dict), and nested dataclasses. A field may carry a check:

    port: int = field(default=8021, metadata=check(lambda v: 0 < v < 65536, "a TCP port 1-65535"))
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["ConfigProblems", "build", "check", "LineMap"]

#: key path (tuple of keys) -> 1-based YAML line where that key was written
LineMap = dict[tuple[str, ...], int]


class ConfigProblems(Exception):
    """Raised by `build` with every problem found, each `path: message`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def check(predicate: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    """Field metadata: the value must satisfy `predicate`; `expected` says what that means."""
    return {"check": predicate, "expected": expected}


def build(cls: type[T], data: Any, lines: LineMap | None = None, path: tuple[str, ...] = ()) -> T:
    """Build `cls` from `data`; raise ConfigProblems listing every problem with its key path."""
    problems: list[str] = []
    value = _convert(cls, data, path, problems, lines or {})
    if problems:
        raise ConfigProblems(problems)
    return value


def _where(path: tuple[str, ...], lines: LineMap) -> str:
    dotted = ".".join(path) or "(top level)"
    for n in range(len(path), 0, -1):
        line = lines.get(path[:n])
        if line:
            return f"line {line}: {dotted}"
    return dotted


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if hint is str:
        return "a string"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is Path:
        return "a path"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return str(hint)


def _convert(hint: Any, data: Any, path: tuple[str, ...], problems: list[str], lines: LineMap) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if data is None:
            return None
        if len(non_none) == 1:
            return _convert(non_none[0], data, path, problems, lines)
        for option in non_none:  # first option that converts cleanly wins
            trial: list[str] = []
            value = _convert(option, data, path, trial, lines)
            if not trial:
                return value
        problems.append(f"{_where(path, lines)}: expected {' or '.join(_type_name(a) for a in non_none)}, got {_describe(data)}")
        return None

    if dataclasses.is_dataclass(hint):
        return _build_dataclass(hint, data, path, problems, lines)

    if origin is typing.Literal:
        if data not in args:
            problems.append(f"{_where(path, lines)}: expected {_type_name(hint)}, got {_describe(data)}")
        return data

    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            problems.append(f"{_where(path, lines)}: expected {_type_name(hint)}, got {_describe(data)}")
            return None

    if origin in (list, tuple):
        if not isinstance(data, (list, tuple)):
            problems.append(f"{_where(path, lines)}: expected a list, got {_describe(data)}")
            return ()
        item_hint = args[0] if args else Any
        return tuple(_convert(item_hint, item, path + (str(i),), problems, lines) for i, item in enumerate(data))

    if origin is dict:
        if not isinstance(data, Mapping):
            problems.append(f"{_where(path, lines)}: expected a mapping, got {_describe(data)}")
            return {}
        value_hint = args[1] if len(args) == 2 else Any
        return {str(k): _convert(value_hint, v, path + (str(k),), problems, lines) for k, v in data.items()}

    if hint is Any:
        return data
    if hint is bool:
        if isinstance(data, bool):
            return data
    elif hint is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
    elif hint is float:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
    elif hint is str:
        if isinstance(data, str):
            return data
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return str(data)  # YAML reads 10086 as a number; a DID is still a string
    elif hint is Path:
        if isinstance(data, (str, Path)):
            return Path(data)
    else:
        raise TypeError(f"typed_config cannot handle the hint {hint!r} at {'.'.join(path)}")
    problems.append(f"{_where(path, lines)}: expected {_type_name(hint)}, got {_describe(data)}")
    return None


def _build_dataclass(cls: Any, data: Any, path: tuple[str, ...], problems: list[str], lines: LineMap) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        problems.append(f"{_where(path, lines)}: expected a mapping, got {_describe(data)}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if str(key) not in fields:
            known = ", ".join(sorted(fields))
            problems.append(f"{_where(path + (str(key),), lines)}: unknown key (known keys here: {known})")
    kwargs: dict[str, Any] = {}
    before = len(problems)
    for name, f in fields.items():
        sub = path + (name,)
        field_before = len(problems)
        if name in data:
            value = _convert(hints[name], data[name], sub, problems, lines)
        elif f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        else:
            problems.append(f"{_where(sub, lines)}: required key is missing ({_type_name(hints[name])})")
            continue
        predicate = f.metadata.get("check")
        if predicate is not None and value is not None and len(problems) == field_before:
            try:
                ok = predicate(value)
            except Exception:  # a check that cannot even run on the value is a failed check
                ok = False
            if not ok:
                problems.append(f"{_where(sub, lines)}: expected {f.metadata['expected']}, got {_describe(data[name])}")
        kwargs[name] = value
    if len(problems) > before:
        return None
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # __post_init__ cross-field rules
        problems.append(f"{_where(path, lines)}: {exc}")
        return None

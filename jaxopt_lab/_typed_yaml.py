"""Typed YAML: the one machinery behind run configs and study specs.

A file is read with YAML 1.2's float rules (``1e-3`` is a number, not a string), ``--set
key.sub=value`` overrides are parsed the same way and applied to the raw tree, and the tree is
built into frozen dataclasses, checking keys and types recursively. Every error is a
``ConfigError`` that names the key and where its value came from::

    configs/adam.yaml: optimizer.learning_rate: expected a number, got str 'fast'
    --set train.epochs (config configs/adam.yaml): train.epochs: expected an integer, got …

Field types understood: dataclasses, ``int``, ``float`` (ints accepted), ``bool``, ``str``,
``list[T]``, ``dict[...]`` (any mapping, values unchecked), ``Any``, and unions with ``None``.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config value is missing, unknown, of the wrong type or out of range."""


class _DuplicateKeyError(yaml.YAMLError):
    pass


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` as a string; accept the YAML 1.2 float forms. A key given twice
    in one mapping is an error (PyYAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in lines:
                raise _DuplicateKeyError(
                    f"duplicate key {key!r} (lines {lines[key]} and {line}); keep one"
                )
            lines[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str) -> Any:
    """YAML text → data, with YAML 1.2 floats; ``ConfigError`` naming ``source`` if invalid."""
    try:
        return yaml.load(text, Loader=_Loader)
    except _DuplicateKeyError as error:
        raise ConfigError(f"{source}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {yaml_problem(error)}") from None


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error on one line: the problem, where it was found and what it was parsing,
    e.g. ``expected ',' or ']', but got '<stream end>' at line 4, column 1 (while parsing a
    flow sequence from line 3, column 7)``."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem is None:
        return " ".join(str(error).split())
    text = error.problem
    if error.problem_mark is not None:
        mark = error.problem_mark
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    if error.context:
        text += f" ({error.context}"
        if error.context_mark is not None:
            mark = error.context_mark
            text += f" from line {mark.line + 1}, column {mark.column + 1}"
        text += ")"
    return text


def read_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The top-level mapping of a YAML file (empty for an empty file).

    Raises ``ConfigError`` for a missing file, a directory, a non-mapping top level or invalid
    YAML, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(f"{what} file {path} {problem} (looked for {path.absolute()})")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8"
        ) from None
    raw = parse_yaml(text, str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    return raw


def parse_override(item: str, source: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` → ``("train.epochs", 3)``, the value parsed as YAML 1.2."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"--set {item!r} (config {source}): expected key.sub=value, e.g. train.epochs=3"
        )
    return key, parse_yaml(text, f"--set {item!r}")


def set_dotted(tree: dict[str, Any], key: str, value: Any, source: str) -> None:
    """``tree[a][b] = value`` for ``key = "a.b"``, creating mappings on the way."""
    node = tree
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(
                f"--set {key}=… (config {source}): {'.'.join(parts[: i + 1])} is not a mapping"
            )
        node = child
    node[parts[-1]] = value


def apply_overrides(tree: dict[str, Any], overrides: Iterable[str], source: str) -> set[str]:
    """Apply ``key=value`` overrides to ``tree`` in place; returns the keys set."""
    keys = set()
    for item in overrides:
        key, value = parse_override(item, source)
        set_dotted(tree, key, value, source)
        keys.add(key)
    return keys


@dataclasses.dataclass(frozen=True)
class Where:
    """Where values came from: the file ``source``, or ``--set`` for the ``overridden`` keys."""

    source: str
    overridden: frozenset[str] = frozenset()

    def error(self, key: str, message: str) -> ConfigError:
        origin = f"--set {key} (config {self.source})" if self._from_set(key) else self.source
        return ConfigError(f"{origin}: {key}: {message}")

    def _from_set(self, key: str) -> bool:
        return any(
            key == k or key.startswith(k + ".") or key.startswith(k + "[") for k in self.overridden
        )


def build(cls: type, data: Any, where: Where, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, checking keys and types recursively."""
    section = prefix.rstrip(".") or "config"
    if not isinstance(data, Mapping):
        raise where.error(section, f"expected a mapping, got {describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise where.error(
            prefix + str(unknown[0]), f"unknown key; {section} accepts {', '.join(fields)}"
        )
    values = {}
    for name, field in fields.items():
        key = prefix + name
        if name not in data:
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise where.error(key, "missing (required)")
            continue
        values[name] = coerce(hints[name], data[name], key, where)
    return cls(**values)


def coerce(hint: Any, value: Any, key: str, where: Where) -> Any:
    """Check ``value`` against the type ``hint`` (ints are accepted as floats)."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where, key + ".")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(option, value, key, where)
            except ConfigError as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        raise where.error(key, f"expected {type_name(hint)}, got {describe(value)}")
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise where.error(key, f"expected {type_name(hint)}, got {describe(value)}")
        return [coerce(item, v, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise where.error(key, f"expected a mapping, got {describe(value)}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.error(key, f"expected a number, got {describe(value)}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.error(key, f"expected an integer, got {describe(value)}")
        return value
    if hint is bool or hint is str:
        if not isinstance(value, hint):
            raise where.error(key, f"expected {hint.__name__}, got {describe(value)}")
        return value
    raise TypeError(f"config field {key} has an unsupported type {hint!r}")  # a bug, not input


def to_dict(instance: Any) -> dict[str, Any]:
    """A built dataclass as plain YAML-able data (``build`` inverts it)."""
    return dataclasses.asdict(instance)


def one_of(where: Where, key: str, value: str, allowed: Sequence[str]) -> None:
    """``ConfigError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise where.error(key, f"{value!r} is not one of {', '.join(allowed)}")


def type_name(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        return f"a list of {type_name(typing.get_args(hint)[0])}"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(type_name(h) for h in typing.get_args(hint) if h is not type(None))
    return {float: "a number", int: "an integer", str: "a string", bool: "a bool"}.get(
        hint, str(hint)
    )


def describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def differences(saved: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two config documents, as
    ``key: was …, now …`` (for errors that say exactly what changed)."""
    if isinstance(saved, dict) and isinstance(new, dict):
        keys = list(dict.fromkeys([*saved, *new]))
        return [
            line
            for key in keys
            for line in differences(
                saved.get(key, _ABSENT), new.get(key, _ABSENT), f"{prefix}{key}."
            )
        ]
    if saved == new:
        return []
    return [f"{prefix[:-1] or 'the config'}: was {_show(saved)}, now {_show(new)}"]


_ABSENT = object()


def _show(value: Any) -> str:
    return "absent" if value is _ABSENT else repr(value)

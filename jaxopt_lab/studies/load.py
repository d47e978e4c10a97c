"""Reading a study: a study file or a run directory's ``study.yaml`` into a typed ``StudySpec``.

The format is ``jaxopt_lab.studies.spec``'s; the kind's own section and checks come from the
table of kinds (``jaxopt_lab.studies.kinds.KINDS``), which is why reading lives here and not
beside the dataclasses the kinds themselves import.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jaxopt_lab._typed_yaml import (
    ConfigError,
    Where,
    build,
    describe,
    one_of,
    parse_override,
    read_mapping,
    set_dotted,
)
from jaxopt_lab.optimizers import registry
from jaxopt_lab.studies.kinds import KINDS
from jaxopt_lab.studies.runs import METRICS
from jaxopt_lab.studies.spec import (
    CONFIG_SECTIONS,
    STUDY_SECTIONS,
    StudySpec,
    check_grid,
    slugify,
)
from jaxopt_lab.studies.store import Store


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> StudySpec:
    """Read a study YAML, apply ``key=value`` overrides and validate it (see module docstring).

    Raises ``ConfigError`` naming the key and the file (or ``--set``).
    """
    raw = read_mapping(path, what="study config")
    registry.add_module_folder(Path(path).parent)  # `module:factory` next to the study file
    return spec_from_dict({**raw, "source": str(path)}, overrides, source=str(path))


def spec_from_dict(
    data: Mapping[str, Any], overrides: Iterable[str] = (), source: str = "<dict>"
) -> StudySpec:
    """Validate a plain dict (a study file, or a run directory's ``study.yaml``) into a
    ``StudySpec``, applying ``--set`` overrides; errors name ``source``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a study config is a mapping, got {describe(data)}")
    raw = {k: copy.deepcopy(v) for k, v in _named_optimizers(data).items() if v is not None}
    top = Where(source)
    if "kind" not in raw:
        raise top.error("kind", f"missing (required); use one of {', '.join(KINDS)}")
    if not isinstance(raw["kind"], str):
        raise top.error("kind", f"expected a string, got {describe(raw['kind'])}")
    one_of(top, "kind", raw["kind"], tuple(KINDS))
    kind = KINDS[raw["kind"]]
    own = () if kind.settings is None else (raw["kind"],)
    where = _apply_overrides(raw, list(overrides), (*STUDY_SECTIONS, *own), source)
    accepted = [*(f.name for f in dataclasses.fields(StudySpec) if f.name != "settings"), *own]
    for key in raw:
        if key not in accepted:
            raise where.error(
                str(key), f"unknown key; a {raw['kind']} study accepts {', '.join(accepted)}"
            )
    section = raw.pop(raw["kind"], {}) if own else None
    spec = build(StudySpec, raw, where)
    if kind.settings is not None:
        spec = dataclasses.replace(
            spec, settings=build(kind.settings, section, where, prefix=f"{spec.kind}.")
        )
    _check(spec, where)
    kind.check(spec, where)
    return spec


def _named_optimizers(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (``key: null`` = absent) with each factory object given as a row's or the
    base's optimizer replaced by its reference (``registry.reference_of``): ``study.yaml``
    stores names, and the runs are what the names resolve to."""
    raw = dict(data)
    rows = raw.get("rows")
    if isinstance(rows, list):
        raw["rows"] = [
            {**row, "set": _named(row["set"], "optimizer.name")}
            if isinstance(row, Mapping) and isinstance(row.get("set"), Mapping)
            else row
            for row in rows
        ]
    base = raw.get("base")
    if isinstance(base, Mapping) and isinstance(base.get("optimizer"), Mapping):
        raw["base"] = {**base, "optimizer": _named(base["optimizer"], "name")}
    return raw


def _named(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = mapping.get(key)
    return {**mapping, key: registry.reference_of(value)} if callable(value) else dict(mapping)


def stored_spec(store: Store) -> StudySpec:
    """The study a run directory (or a published one) holds: its ``study.yaml``."""
    raw, path = store.read_study()
    return spec_from_dict(raw, source=str(path))


def _apply_overrides(
    raw: dict[str, Any], items: list[str], sections: tuple[str, ...], source: str
) -> Where:
    """Study-section ``--set`` keys go into ``raw``; run-config keys into ``raw['overrides']``.

    Returns where each study value came from (the file, or ``--set`` for the keys set here).
    """
    config_overrides = dict(raw.get("overrides") or {})
    touched = set()
    for item in items:
        key, value = parse_override(item, source)
        head = key.split(".", 1)[0]
        if head in sections:
            set_dotted(raw, key, value, source)
            touched.add(key)
        elif head in CONFIG_SECTIONS:
            config_overrides[key] = value
        else:
            raise ConfigError(
                f"--set {item!r} (config {source}): {head!r} is neither a run config section "
                f"({', '.join(CONFIG_SECTIONS)}) nor a study section ({', '.join(sections)})"
            )
    # Kept in the resolved study.yaml, so a rebuilt report states how the runs were made.
    raw["overrides"] = config_overrides
    raw["cli_set"] = [*raw.get("cli_set", []), *items]
    return Where(source, frozenset(touched))


def _check(spec: StudySpec, where: Where) -> None:
    """Checks across fields that every kind shares: metric names and the rows."""
    one_of(where, "report.primary_metric", spec.report.primary_metric, tuple(METRICS))
    seen: dict[str, str] = {}
    for i, row in enumerate(spec.rows):
        at = f"rows[{i}]"
        if "/" in row.name:
            raise where.error(
                f"{at}.name", f"{row.name!r} may not contain '/' (it prefixes run ids)"
            )
        for key in row.set:
            if not isinstance(key, str) or key.split(".", 1)[0] not in CONFIG_SECTIONS:
                raise where.error(
                    f"{at}.set",
                    f"({row.name}) sets {key!r}; keys start with one of "
                    f"{', '.join(CONFIG_SECTIONS)}",
                )
        if isinstance(row.schedule, dict) and "kind" not in row.schedule:
            raise where.error(f"{at}.schedule.kind", "missing (required), e.g. {kind: step}")
        if row.grid is not None:
            check_grid(row.grid, f"{at}.grid", where)
        slug = slugify(row.name)
        if slug in seen:
            raise where.error(
                f"{at}.name",
                f"rows {seen[slug]!r} and {row.name!r} share directory {slug!r}; rename one",
            )
        seen[slug] = row.name

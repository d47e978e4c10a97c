"""The study config format: a shared base plus rows of overrides.

A study YAML (``configs/studies/*.yaml``)::

    study: seed_table            # name, also the report title
    kind: compare                # compare | tuning | landscapes | second_order
    question: Which optimizer …  # printed at the top of the report
    base:                        # a run Config as in jaxopt_lab.config (model/optimizer/train/data)
      model: {init: torch}
      train: {epochs: 15, batch_size: 32, seeds: [0, 1, 2, 3, 4]}
    rows:
      - name: SGD                # unique; also the run sub-directory (slugified)
        set: {optimizer.name: sgd, optimizer.learning_rate: 0.01}
        notebook: {val_accuracy: {15: 0.9644}}   # optional reference numbers
        group: Momentum          # optional: compare variants within a group …
        variant: constant        # … against the group's first row
    report: {target_accuracy: 0.97, alpha: 0.05, confidence: 0.95}

Each row's run config is ``base``, then the row's ``set`` (dotted keys), then the command line's
``--set key=value`` overrides, so the command line always wins. ``--set`` keys whose first part is
a top-level study key (``report``, ``tuning``, ``landscapes``, ``second_order``) change the study
itself instead (e.g. ``--set tuning.seeds=[0,1]``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

KINDS = ("compare", "tuning", "landscapes", "second_order")
CONFIG_SECTIONS = ("model", "optimizer", "train", "data")
STUDY_SECTIONS = ("report", "tuning", "landscapes", "second_order", "expectation")
ROW_KEYS = (
    "name",
    "set",
    "notebook",
    "group",
    "variant",
    "schedule",
    "default_learning_rate",
    "grid",
)

REPORT_DEFAULTS = {
    "target_accuracy": 0.97,
    "alpha": 0.05,
    "confidence": 0.95,
    "primary_metric": "final_val_accuracy",
}


class StudySpecError(ValueError):
    """A study config is malformed; the message names the key and the fix."""


def slugify(name: str) -> str:
    """Row name → directory name: lower case, runs of other characters become ``_``."""
    slug = re.sub(r"[^a-z0-9.=-]+", "_", name.lower()).strip("_")
    if not slug:
        raise StudySpecError(f"row name {name!r} has no letters or digits; give it a real name")
    return slug


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Read a study YAML, apply ``key=value`` overrides and validate it (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise StudySpecError(f"study config {path} does not exist; see configs/studies/")
    with path.open() as f:
        raw = yaml.safe_load(f)
    return validate_spec(raw, overrides, source=str(path))


def validate_spec(
    raw: Mapping[str, Any], overrides: Iterable[str] = (), source: str = "<dict>"
) -> dict[str, Any]:
    """Check the study dict, fill defaults, apply overrides; returns a new dict."""
    if not isinstance(raw, Mapping):
        raise StudySpecError(f"{source}: a study config is a mapping, got {type(raw).__name__}")
    spec = copy.deepcopy(dict(raw))
    for key in ("study", "kind"):
        if key not in spec:
            raise StudySpecError(f"{source}: missing top-level key {key!r}")
    if spec["kind"] not in KINDS:
        raise StudySpecError(f"{source}: kind {spec['kind']!r} unknown; use one of {KINDS}")
    spec.setdefault("question", "")
    spec.setdefault("base", {})
    spec["report"] = {**REPORT_DEFAULTS, **(spec.get("report") or {})}
    config_overrides: dict[str, Any] = dict(spec.get("overrides") or {})
    overrides = list(overrides)
    for item in overrides:
        key, value = parse_override(item)
        head = key.split(".", 1)[0]
        if head in STUDY_SECTIONS:
            set_dotted(spec, key, value)
        elif head in CONFIG_SECTIONS:
            config_overrides[key] = value
        else:
            raise StudySpecError(
                f"--set {item!r}: {head!r} is neither a run config section {CONFIG_SECTIONS} "
                f"nor a study section {STUDY_SECTIONS}"
            )
    # Kept in the resolved study.yaml, so a rebuilt report states how the runs were made.
    spec["overrides"] = config_overrides
    spec["cli_set"] = [*spec.get("cli_set", []), *overrides]
    if spec["kind"] in ("compare", "tuning"):
        rows = spec.get("rows")
        if not isinstance(rows, list) or not rows:
            raise StudySpecError(f"{source}: kind {spec['kind']!r} needs a non-empty list `rows`")
        seen: dict[str, str] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping) or "name" not in row:
                raise StudySpecError(f"{source}: rows[{i}] needs a `name`")
            unknown = sorted(set(row) - set(ROW_KEYS))
            if unknown:
                raise StudySpecError(
                    f"{source}: rows[{i}] ({row['name']}) has unknown keys {unknown}; a row takes "
                    f"{ROW_KEYS}"
                )
            row.setdefault("set", {})
            if not isinstance(row["set"], Mapping):
                raise StudySpecError(f"{source}: rows[{i}].set must map dotted keys to values")
            for key in row["set"]:
                if key.split(".", 1)[0] not in CONFIG_SECTIONS:
                    raise StudySpecError(
                        f"{source}: rows[{i}] ({row['name']}) sets {key!r}; keys start with one "
                        f"of {CONFIG_SECTIONS}"
                    )
            slug = slugify(str(row["name"]))
            if slug in seen:
                raise StudySpecError(
                    f"{source}: rows {seen[slug]!r} and {row['name']!r} share directory {slug!r}; "
                    "rename one"
                )
            seen[slug] = str(row["name"])
    return spec


def parse_override(item: str) -> tuple[str, Any]:
    """``"train.epochs=2"`` → ``("train.epochs", 2)``, the value parsed as YAML."""
    if "=" not in item:
        raise StudySpecError(f"--set {item!r}: expected key.sub=value")
    key, text = item.split("=", 1)
    return key.strip(), yaml.safe_load(text)


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``tree[a][b] = value`` for ``key = "a.b"``, creating mappings on the way."""
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise StudySpecError(f"cannot set {key!r}: {part!r} is a {type(nxt).__name__}")
        node = nxt
    node[parts[-1]] = value


def row_config_dict(spec: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """The nested run-config dict of one row: base, then the row's ``set``, then ``--set``."""
    tree = copy.deepcopy(dict(spec.get("base") or {}))
    for key, value in row.get("set", {}).items():
        set_dotted(tree, key, copy.deepcopy(value))
    for key, value in (spec.get("overrides") or {}).items():
        set_dotted(tree, key, copy.deepcopy(value))
    return tree

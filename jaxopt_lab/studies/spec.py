"""The study config format: a shared base run config plus rows of overrides, typed.

A study YAML (``configs/studies/*.yaml``)::

    study: seed_table            # name, also the report title
    kind: compare                # a key of jaxopt_lab.studies.kinds.KINDS
    question: Which optimizer …  # printed at the top of the report
    base:                        # a run config as in jaxopt_lab.config (workload/model/…/data)
      model: {init: torch}
      train: {epochs: 15, batch_size: 32, seeds: [0, 1, 2, 3, 4]}
    rows:
      - name: SGD                # unique; also the run sub-directory (slugified)
        set: {optimizer.name: sgd, optimizer.learning_rate: 1e-2}
        notebook: {val_accuracy: {15: 0.9644}}   # optional reference numbers
        group: Momentum          # optional: compare variants within a group …
        variant: constant        # … against the group's first row
        schedule: cosine         # optional: the row's run-relative optimizer.schedule
    report: {target_accuracy: 0.97, alpha: 0.05, confidence: 0.95}
    tuning: {…}                  # the kind's own section, if it has one (see kinds/)

It is read with the typed-YAML machinery of the run configs (``jaxopt_lab._typed_yaml``): YAML
1.2 numbers (``1e-3`` is a float), unknown keys and wrong types raise ``ConfigError`` naming the
key and the file, or ``--set`` when the command line set it.

Each row's run config is ``base``, then the row's ``set`` (dotted keys) and ``schedule``, then
the command line's ``--set key=value`` overrides, so the command line always wins. ``--set`` keys
whose first part is a study section (``report``, ``expectation``, ``run_together`` or the kind's
own section) change the study itself instead (e.g. ``--set tuning.sweep_seeds=[0,1]``).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import numpy as np

from jaxopt_lab._typed_yaml import (
    ConfigError,
    Where,
    set_dotted,
    to_dict,
)

# The old name of a malformed-study error, kept so that ``except StudySpecError`` still works.
StudySpecError = ConfigError

CONFIG_SECTIONS = ("workload", "model", "optimizer", "train", "data")
# Study sections every kind has; a kind with settings adds its own (named after the kind).
STUDY_SECTIONS = ("report", "expectation", "run_together")


@dataclasses.dataclass(frozen=True)
class LogGrid:
    """``num`` points from ``min`` to ``max``, evenly spaced in log (``numpy.geomspace``)."""

    min: float
    max: float
    num: int

    def points(self) -> list[float]:
        return [float(x) for x in np.geomspace(self.min, self.max, self.num)]


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a study: a name and the dotted run-config keys it sets over ``base``.

    ``schedule`` is a run-relative schedule of ``jaxopt_lab.schedules``: a name (``cosine``) or
    a mapping ``{kind: step, at: [0.5, 0.75], factor: 0.1}``. ``default_learning_rate`` and
    ``grid`` are the tuning study's; ``default_learning_rate`` and ``search`` (hyperparameter →
    distribution, e.g. ``{learning_rate: {log_uniform: [1e-4, 1e-1]}}``) the field study's;
    ``reference`` (``{metric, value, setting, source}``) the workloads study's published figure
    for the row, when it is not its workload's own.
    """

    name: str
    set: dict[str, Any] = dataclasses.field(default_factory=dict)
    notebook: dict[str, Any] | None = None
    group: str | None = None
    variant: str | None = None
    schedule: str | dict[str, Any] | None = None
    default_learning_rate: float | None = None
    grid: LogGrid | list[float] | None = None
    search: dict[str, Any] | None = None
    reference: dict[str, Any] | None = None

    @property
    def optimizer_schedule(self) -> dict[str, Any] | None:
        """The run config's ``optimizer.schedule`` for the row's ``schedule``: the engine
        resolves it against the run's step count, so a shortened run keeps its shape."""
        if self.schedule is None:
            return None
        if isinstance(self.schedule, str):
            return {"name": self.schedule, "kwargs": {}}
        options = dict(self.schedule)
        return {"name": options.pop("kind"), "kwargs": options}


@dataclasses.dataclass(frozen=True)
class ReportSettings:
    """What the report calls reached, significant and primary."""

    target_accuracy: float = 0.97
    alpha: float = 0.05
    confidence: float = 0.95
    primary_metric: str = "final_val_accuracy"


@dataclasses.dataclass(frozen=True)
class Expectation:
    """Check the mean ``epoch`` validation accuracy of ``rows`` (default: every row with notebook
    numbers) against the notebook's, within ``tolerance``."""

    epoch: int
    tolerance: float
    rows: list[str] | None = None


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A whole study. ``settings`` is the kind's own section (its ``Settings`` dataclass, or
    None); in YAML it sits under the kind's name. ``overrides`` are the command line's run-config
    ``--set`` keys (applied to every row), ``cli_set`` the raw ``--set`` strings, ``source`` the
    study file."""

    study: str
    kind: str
    question: str = ""
    base: dict[str, Any] = dataclasses.field(default_factory=dict)
    rows: list[Row] = dataclasses.field(default_factory=list)
    report: ReportSettings = dataclasses.field(default_factory=ReportSettings)
    expectation: Expectation | None = None
    run_together: bool = True
    settings: Any = None
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    cli_set: list[str] = dataclasses.field(default_factory=list)
    source: str | None = None


def slugify(name: str) -> str:
    """Row name → directory name: lower case, runs of other characters become ``_``."""
    slug = re.sub(r"[^a-z0-9.=-]+", "_", name.lower()).strip("_")
    if not slug:
        raise ConfigError(f"row name {name!r} has no letters or digits; give it a real name")
    return slug


def spec_to_dict(spec: StudySpec) -> dict[str, Any]:
    """The spec as plain YAML-able data, the kind's settings under the kind's name
    (``spec_from_dict`` inverts it)."""
    out = to_dict(spec)
    settings = out.pop("settings")
    if settings is not None:
        out[spec.kind] = settings
    return out


def row_config_dict(spec: StudySpec, row: Row) -> dict[str, Any]:
    """The nested run-config dict of one row: base, then the row's ``set`` and ``schedule``,
    then ``--set``."""
    tree = copy.deepcopy(spec.base)
    origin = f"{spec.source or 'study'} row {row.name!r}"
    for key, value in row.set.items():
        set_dotted(tree, key, copy.deepcopy(value), origin)
    if row.schedule is not None:
        set_dotted(tree, "optimizer.schedule", row.optimizer_schedule, origin)
    for key, value in spec.overrides.items():
        set_dotted(tree, key, copy.deepcopy(value), origin)
    return tree


def require_rows(spec: StudySpec, where: Where) -> None:
    """``ConfigError`` unless the study has rows (kinds that train rows call it)."""
    if not spec.rows:
        raise where.error("rows", f"kind {spec.kind!r} needs a non-empty list `rows`")


def require_default_workload(spec: StudySpec, where: Where, what: str) -> None:
    """``ConfigError`` when the study is asked to train another workload than the default:
    a kind with its own loop (``what`` says on which problem) would silently ignore it."""
    base = spec.base.get("workload") or {}
    name = spec.overrides.get("workload.name", base.get("name", "mnist_mlp"))
    if name != "mnist_mlp":
        raise where.error(
            "workload.name",
            f"the {spec.kind} study computes {what} with its own loop, not on a workload: "
            f"{name!r} would be ignored; remove workload.name (see docs/workloads.md for the "
            "studies that take one)",
        )


def check_grid(grid: LogGrid | list[float], key: str, where: Where) -> None:
    """A learning-rate grid: rates > 0, and a log grid of at least one point."""
    if isinstance(grid, LogGrid):
        if not (grid.min > 0 and grid.max > 0):
            raise where.error(key, f"needs min and max > 0, got {grid.min} and {grid.max}")
        if grid.num < 1:
            raise where.error(f"{key}.num", f"must be ≥ 1, got {grid.num}")
    elif not grid or any(not x > 0 for x in grid):
        raise where.error(key, f"needs rates > 0, got {grid}")

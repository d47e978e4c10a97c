"""The comparison study: rows of run configs trained by the engine, compared arm by arm.

Every row trains ``train.seeds`` runs (× its learning rates); the report is the comparison
section (``jaxopt_lab.studies.sections``): table, curves, notebook check, variant effects,
rankings, pairwise tests and generated conclusions, then the method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from jaxopt_lab._typed_yaml import Where
from jaxopt_lab.data import MNIST
from jaxopt_lab.studies.aggregate import summarize_arms
from jaxopt_lab.studies.runsets import OnSet, Phase, train_phases
from jaxopt_lab.studies.sections import (
    ReportParts,
    comparison_section,
    header_lines,
    method_lines,
)
from jaxopt_lab.studies.spec import StudySpec, require_rows
from jaxopt_lab.studies.store import Store

Settings = None


def check(spec: StudySpec, where: Where) -> None:
    require_rows(spec, where)


def run(
    spec: StudySpec,
    store: Store,
    *,
    overwrite: bool,
    quiet: bool,
    data: MNIST | None,
    on_set: OnSet | None,
) -> None:
    opts = {"overwrite": overwrite, "quiet": quiet, "data": data, "on_set": on_set}
    train_phases(spec, store, plan(spec, store), **opts)


def plan(spec: StudySpec, store: Store) -> Iterator[Phase]:
    """One phase: the rows, in the study's directory."""
    yield Phase(None, list(spec.rows))


def report(spec: StudySpec, store: Store) -> ReportParts:
    data = store.read_rows([r.name for r in spec.rows])
    arms = summarize_arms(
        data.runs, spec.report.target_accuracy, data.wall_seconds, spec.report.confidence
    )
    section = comparison_section(spec, arms, prefix="", title="Results")
    lines = [*header_lines(spec, store), *section.lines, *method_lines(spec, data.summaries)]
    return dataclasses.replace(section, lines=lines)

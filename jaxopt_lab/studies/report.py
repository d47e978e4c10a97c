"""Build a study's report from its stored files only: ``report.md``, tables (CSV/JSON) and
figures in the run directory.

Every number and sentence comes from ``study.yaml`` (the resolved study) and the files the
study's run wrote (the engine's metrics and summaries, or ``results.json`` for the kinds that
run their own loop), so ``scripts/report.py RUN_DIR`` rebuilds the same report without
training. The kind composes the report (``jaxopt_lab.studies.kinds``); the store writes it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jaxopt_lab.studies.kinds import KINDS
from jaxopt_lab.studies.store import Store


@dataclasses.dataclass(frozen=True)
class Report:
    """Where the report went and its headline table (markdown), for the script to print."""

    path: Path
    headline: str


def build_report(run_dir: str | Path) -> Report:
    """Rebuild the report of a finished (or partly finished) study run directory.

    Raises ``ReportError`` (``jaxopt_lab.studies.store``) when a file it needs is missing.
    """
    store = Store(Path(run_dir))
    spec = store.read_spec()
    parts = KINDS[spec.kind].report(spec, store)
    return Report(store.write_report(parts), parts.headline)

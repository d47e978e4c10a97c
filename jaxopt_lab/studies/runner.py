"""Run a study: check it against what its directory holds, record it, run its kind, report.

    spec = load_spec("configs/studies/seed_table.yaml")
    report = run_study(spec, "runs/seed_table")      # report.path, report.headline

A study directory holds one study. Before anything is written, a rerun is checked against the
``study.yaml`` already there: it may change only what changes no run (the ``report`` section,
and for a kind whose rows train in run sets of their own, such as the field study, rows
appended after the saved ones or withdrawn from the end before any of their run sets existed,
the question's wording and its section's report-only keys), so
a refused rerun leaves the directory, its provenance and its "Regenerate" command as they
were. Then ``study.yaml`` (so the report can always be rebuilt from the directory alone) and the
call's provenance (``jaxopt_lab.provenance``) are written, the kind runs
(``jaxopt_lab.studies.kinds``), and the report is built. The directory is locked for the call
(``engine.lock``): a second ``compare.py`` on it is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jaxopt_lab import provenance
from jaxopt_lab._typed_yaml import differences
from jaxopt_lab.data import MNIST
from jaxopt_lab.engine.lock import OutputLock
from jaxopt_lab.studies.kinds import KINDS
from jaxopt_lab.studies.load import stored_spec
from jaxopt_lab.studies.report import Report, build_report
from jaxopt_lab.studies.runsets import OnSet
from jaxopt_lab.studies.spec import StudySpec, spec_to_dict
from jaxopt_lab.studies.store import Store

# What a rerun may change: how the report reads the runs, and how the command line spelt it.
REPORT_ONLY = ("report", "cli_set", "source")


class StudyMismatchError(ValueError):
    """A study directory holds another study (or the same one with other runs)."""


def run_study(
    spec: StudySpec,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    quiet: bool = False,
    data: MNIST | None = None,
    on_set: OnSet | None = None,
) -> Report:
    """Run every phase of the study in ``out_dir``, then build and return its report.

    Finished run sets are kept and interrupted ones resumed, unless ``overwrite``. ``data``
    (tiny data in tests) replaces the MNIST split every run set would load; ``on_set`` is told
    about each run set before it trains.

    Raises:
      StudyMismatchError: ``out_dir`` holds a study with other runs and not ``overwrite``.
      OutputLockedError: another process is running a study in ``out_dir``.
    """
    store = Store(Path(out_dir))
    with OutputLock(store.root):
        fresh = overwrite or not store.has_spec()
        if not fresh:
            check_same_study(store, spec)
        store.write_spec(spec)
        store.add_provenance(provenance.record(), fresh=fresh)
        KINDS[spec.kind].run(
            spec, store, overwrite=overwrite, quiet=quiet, data=data, on_set=on_set
        )
    return build_report(store.root)


def check_same_study(store: Store, spec: StudySpec) -> None:
    """Refuse ``spec`` in a directory whose ``study.yaml`` describes other runs.

    Raises:
      StudyMismatchError: naming each key that differs beyond the report section.
    """
    saved = spec_to_dict(stored_spec(store))
    grown = _without_growth(saved, spec_to_dict(spec), store.root)
    changed = differences(_runs_of(saved), _runs_of(grown))
    if changed:
        raise StudyMismatchError(
            f"{store.root} holds another study or other runs ({'; '.join(changed[:5])}"
            f"{'; …' if len(changed) > 5 else ''}): running this one there would mix them and "
            "its report would claim settings that never ran. Use another --out, or --overwrite "
            "to retrain the directory with this study (only the report section may change on "
            "a rerun, and in a field study rows may be appended)"
        )


def _without_growth(saved: dict[str, Any], new: dict[str, Any], root: Path) -> dict[str, Any]:
    """``new`` with what a kind that grows by rows may change taken back to ``saved``'s: rows
    appended after the saved ones (which stay as they were, in order), saved rows withdrawn
    from the end before any of their run sets existed, the question's wording, and its
    section's ``REPORT_KEYS``."""
    kind = KINDS.get(new.get("kind"))
    if kind is None or not kind.grows_by_rows or saved.get("kind") != new.get("kind"):
        return new
    grown = dict(new)
    rows, old_rows = new.get("rows") or [], saved.get("rows") or []
    if rows[: len(old_rows)] == old_rows:
        grown["rows"] = old_rows
    elif old_rows[: len(rows)] == rows and kind.row_run_sets is not None:
        withdrawn = [row.get("name", "") for row in old_rows[len(rows) :]]
        if not any((root / d).exists() for n in withdrawn for d in kind.row_run_sets(n)):
            grown["rows"] = old_rows
    grown["question"] = saved.get("question")
    section, old_section = new.get(new["kind"]), saved.get(new["kind"])
    if isinstance(section, dict) and isinstance(old_section, dict):
        kept = {k: old_section[k] for k in kind.report_keys if k in old_section}
        grown[new["kind"]] = {**section, **kept}
    return grown


def _runs_of(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in REPORT_ONLY}

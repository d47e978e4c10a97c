"""A study's run directory: the only studies module that reads or writes one.

Layout (``Store(out_dir)``; the tuning study has one such layout per phase, ``sweep/`` and
``final/``, the field study ``trials/`` and ``final/``, as ``store.child(name)``)::

    study.yaml        the resolved study (spec.spec_to_dict), written once it is checked
    provenance.json   each call that ran it: the code's fingerprint and library versions
    runsets.json      {run-set directory: [row names]}: which directories hold this study's rows
    <run set>/        the engine's outputs (engine.outputs: config, metrics, summary)
    results.json      the results of a kind with its own loop (landscapes, second_order), or
                      what a kind's report needs beyond the metrics (field: steps per epoch)
    report.md, <table>.csv / <table>.json, figures/*.png / *.gif    the report

A row's records are told apart within a run set by their run-id prefix, the row name. A run
set's planned epochs are ``train.epochs`` of its ``config.yaml`` (the engine writes it before
training); ``progress`` says how far each run set got (``jaxopt_lab.studies.completeness``).

``metrics.jsonl`` is written whole (``engine.outputs.atomic_write_text``), so a line that is not
a JSON record, a torn last line included, is damage from outside:
``engine.outputs.DamagedOutputError``, never a skipped line (skipping a torn last line would turn
a seed's earlier epoch into its "final").
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from jaxopt_lab._typed_yaml import read_mapping
from jaxopt_lab.config import Config, config_to_dict
from jaxopt_lab.engine import seal
from jaxopt_lab.engine.outputs import (
    CHECKPOINTS,
    CONFIG,
    METRICS,
    METRICS_GZ,
    SUMMARY,
    EditedOutputError,
    atomic_write_bytes,
    atomic_write_text,
    check_sealed,
    metrics_file,
    read_config,
    read_json,
    read_metrics,
    read_sealed_metrics,
    read_summary,
    seal_as_is,
)
from jaxopt_lab.studies.completeness import RunSetProgress
from jaxopt_lab.studies.runs import RunCurve, curves_from_records
from jaxopt_lab.studies.spec import StudySpec, spec_to_dict

STUDY_FILE = "study.yaml"
RUNSETS_FILE = "runsets.json"
RESULTS_FILE = "results.json"
PROVENANCE_FILE = "provenance.json"
REPORT_FILE = "report.md"
FIGURES_DIR = "figures"
# A published study (results/<study>/, jaxopt_lab.studies.publish): its behavioural fingerprint.
FINGERPRINT_FILE = "fingerprint.json"
# Where studies train and where they are published, relative to the repository.
RUNS_DIR = Path("runs")
RESULTS_DIR = Path("results")


class ReportError(ValueError):
    """The run directory lacks a file the report needs; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class RowData:
    """Each row's runs, and the summary of the run set it trained in."""

    runs: dict[str, list[RunCurve]]
    summaries: dict[str, dict[str, Any]]

    @property
    def wall_seconds(self) -> dict[str, float | None]:
        return {row: s.get("wall_seconds") for row, s in self.summaries.items()}


@dataclasses.dataclass(frozen=True)
class Store:
    """The run directory ``root`` of a study (or of one phase of it)."""

    root: Path

    def child(self, name: str) -> Store:
        return Store(self.root / name)

    @property
    def published(self) -> bool:
        """Whether this is a published study (it holds a fingerprint)."""
        return (self.root / FINGERPRINT_FILE).is_file()

    @property
    def training_dir(self) -> Path:
        """Where the study trains: this directory, or for a published one ``runs/<study>``."""
        return RUNS_DIR / self.root.name if self.published else self.root

    @property
    def shown_dir(self) -> Path:
        """How reports name this directory: ``results/<study>`` for a published one."""
        return RESULTS_DIR / self.root.name if self.published else self.root

    # --------------------------------------------------------------------- the study

    def write_spec(self, spec: StudySpec) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(spec_to_dict(spec), sort_keys=False)
        atomic_write_text(self.root / STUDY_FILE, text)

    def has_spec(self) -> bool:
        return (self.root / STUDY_FILE).is_file()

    def add_provenance(self, call: Mapping[str, Any], *, fresh: bool) -> None:
        """Append ``call`` (``jaxopt_lab.provenance.record``) to ``provenance.json``'s calls;
        ``fresh`` starts the list anew (a study trained from scratch)."""
        calls = [] if fresh else self.read_provenance()
        text = json.dumps({"calls": [*calls, dict(call)]}, indent=1)
        atomic_write_text(self.root / PROVENANCE_FILE, text)

    def read_provenance(self) -> list[dict[str, Any]]:
        """The calls that trained or computed this study (empty when none was recorded)."""
        path = self.root / PROVENANCE_FILE
        return list(read_json(path).get("calls", [])) if path.is_file() else []

    def read_study(self) -> tuple[dict[str, Any], Path]:
        """``study.yaml``'s mapping and its path (``studies.load.stored_spec`` types it)."""
        path = self.root / STUDY_FILE
        if not path.is_file():
            raise ReportError(
                f"{path} not found: {self.root} is not a study run directory "
                "(jaxopt-lab compare writes study.yaml first)"
            )
        return read_mapping(path, what="study"), path

    # --------------------------------------------------------------------- run sets

    def run_set_dir(self, dirname: str) -> Path:
        return self.root / dirname

    def write_runsets(self, index: Mapping[str, Sequence[str]]) -> None:
        """Which directories hold this study's rows, so that a directory left by an earlier
        layout of the study (other rows, other sets) is never read twice."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / RUNSETS_FILE).write_text(
            json.dumps({d: list(rows) for d, rows in index.items()}, indent=1)
        )

    def has_metrics(self, dirname: str) -> bool:
        """Whether the run set has started (so the engine resumes it)."""
        return (self.run_set_dir(dirname) / METRICS).is_file()

    def finished(self, dirname: str, members: Mapping[str, Config]) -> bool:
        """A set is finished when its summary exists for the epochs asked and its saved config
        is this one (a changed study falls through to resume, where the engine names the
        mismatch)."""
        set_dir = self.run_set_dir(dirname)
        summary, saved = set_dir / SUMMARY, set_dir / CONFIG
        if not (summary.is_file() and saved.is_file()):
            return False
        first = next(iter(members.values()))
        if read_json(summary).get("epochs_completed") != first.train.epochs:
            return False
        return read_config(set_dir) == as_saved(members)

    def read_rows(self, names: Sequence[str]) -> RowData:
        """Each row's runs and its run set's summary, from the run sets listed in
        ``runsets.json`` (the runner writes it), else from every ``*/metrics.jsonl``.

        A run set may hold several rows; a record belongs to the row whose name prefixes its
        run id (``"<row>/lr=…/seed=…"``). A row with no record is an error naming it.
        """
        by_row: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        summaries: dict[str, dict[str, Any]] = {}
        planned: dict[str, int] = {}
        for set_dir in self._run_sets():
            if metrics_file(set_dir) is None:
                continue
            epochs = _planned_epochs(set_dir)
            summary = _summary_for(set_dir, epochs)
            for rec in read_sealed_metrics(set_dir, summary):
                row = str(rec.get("run", "")).split("/", 1)[0]
                if row in by_row:
                    by_row[row].append(rec)
                    summaries[row] = summary
                    planned[row] = epochs
        missing = [name for name, recs in by_row.items() if not recs]
        if missing:
            raise ReportError(
                f"{self.root}: no metrics for rows {missing}; they have not been trained — run "
                "jaxopt-lab compare again with the same --out (finished run sets are kept)"
            )
        runs = {
            name: _with_final_test(name, recs, summaries[name], planned[name])
            for name, recs in by_row.items()
        }
        return RowData(runs, summaries)

    def progress(self) -> list[RunSetProgress]:
        """How far every run set of the study got: this directory's and, for a kind with
        phases (``child``), each phase's, in the order they were listed."""
        phases = [self, *(Store(p.parent) for p in sorted(self.root.glob(f"*/{RUNSETS_FILE}")))]
        return [
            _set_progress(set_dir, rows, where=str(set_dir.relative_to(self.root)))
            for phase in phases
            for set_dir, rows in phase._run_sets().items()
        ]

    def _run_sets(self) -> dict[Path, tuple[str, ...]]:
        """Each run-set directory and its rows, as ``runsets.json`` lists them (the runner
        writes it); in a directory assembled by hand, every ``*/metrics.jsonl`` (rows: those of
        its records)."""
        index = self.root / RUNSETS_FILE
        if index.is_file():
            listed = read_json(index)
            return {self.root / d: tuple(rows) for d, rows in listed.items()}
        found = {*self.root.glob(f"*/{METRICS}"), *self.root.glob(f"*/{METRICS_GZ}")}
        return {p.parent: () for p in sorted(found)}

    def saved_config(self, dirname: str) -> Any:
        """A run set's ``config.yaml`` as the engine wrote it (None: not there)."""
        set_dir = self.run_set_dir(dirname)
        return read_config(set_dir) if (set_dir / CONFIG).is_file() else None

    def run_set_dirs(self) -> list[str]:
        """Every run set of the study and of its phases, relative to this directory."""
        phases = [self, *(Store(p.parent) for p in sorted(self.root.glob(f"*/{RUNSETS_FILE}")))]
        return [
            set_dir.relative_to(self.root).as_posix()
            for phase in phases
            for set_dir in phase._run_sets()
        ]

    # --------------------------------------------------------------------- publishing

    def copy_records(self, dest: Store, *, compress: bool, only: Sequence[str] | None) -> None:
        """Copy the study's records (no checkpoints, no report) into ``dest``: ``study.yaml``,
        ``provenance.json``, ``results.json`` and each phase's ``runsets.json``, and each run
        set's config, summary and metrics (gzip-compressed when ``compress``, else plain).
        ``only``: the run sets to copy (None: every one)."""
        names = (STUDY_FILE, PROVENANCE_FILE, RESULTS_FILE, RUNSETS_FILE)
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if path.name in names and path.is_file() and CHECKPOINTS not in relative.parts:
                _copy(path, dest.root / relative)
        for dirname in self.run_set_dirs() if only is None else only:
            source, target = self.root / dirname, dest.root / dirname
            for name in (CONFIG, SUMMARY):
                if (source / name).is_file():
                    _copy(source / name, target / name)
            metrics = metrics_file(source)
            if metrics is None:
                continue
            target.mkdir(parents=True, exist_ok=True)
            text = read_text_of(metrics)
            if compress:
                atomic_write_bytes(target / METRICS_GZ, gzip.compress(text.encode(), mtime=0))
            else:
                atomic_write_text(target / METRICS, text)

    def unsealed(self, only: Sequence[str]) -> list[str]:
        """What of ``results.json`` and the run sets ``only`` was written before records were
        sealed, after checking the rest against their seals (``EditedOutputError``)."""
        path = self.root / RESULTS_FILE
        out = []
        if path.is_file():
            self.read_results()
            if seal.SEAL not in read_json(path):
                out.append(RESULTS_FILE)
        for d in only:
            if (self.root / d / SUMMARY).is_file() and not check_sealed(self.root / d):
                out.append(d)
        return out

    def seal_as_is(self) -> list[str]:
        """Seal ``results.json`` and every run set's records as they are (for records written
        before seals existed, ``outputs.seal_as_is``); what it sealed."""
        sealed = []
        path = self.root / RESULTS_FILE
        if path.is_file() and seal.SEAL not in read_json(path):
            self.write_results(self.read_results())
            sealed.append(RESULTS_FILE)
        for d in self.run_set_dirs():
            if (self.root / d / SUMMARY).is_file() and seal_as_is(self.root / d):
                sealed.append(d)
        return sealed

    def write_fingerprint(self, fingerprint: Mapping[str, Any]) -> None:
        atomic_write_text(self.root / FINGERPRINT_FILE, json.dumps(fingerprint, indent=1) + "\n")

    def read_fingerprint(self) -> dict[str, Any]:
        path = self.root / FINGERPRINT_FILE
        if not path.is_file():
            raise ReportError(
                f"{path} not found: {self.root} is not a published study (publish one with "
                "jaxopt-lab publish runs/<study>)"
            )
        return read_json(path)

    # --------------------------------------------------------------------- own loops

    def write_results(self, results: Mapping[str, Any]) -> None:
        """``results.json``, sealed with the digest of its content (``engine/seal.py``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        sealed = {**results, seal.SEAL: seal.digest(dict(results))}
        atomic_write_text(self.root / RESULTS_FILE, json.dumps(sealed))

    def read_results(self) -> dict[str, Any]:
        """``results.json`` without its seal, checked against it (``EditedOutputError``); one
        written before seals existed is read as it is."""
        path = self.root / RESULTS_FILE
        if not path.is_file():
            raise ReportError(f"{path} not found: run jaxopt-lab compare for this study first")
        results = read_json(path)
        expected = results.pop(seal.SEAL, None)
        if expected is not None and seal.digest(results) != expected:
            raise EditedOutputError(path, None, "differs from what was written", "it", 1)
        return results

    # --------------------------------------------------------------------- the report

    def write_report(
        self,
        text: str,
        tables: Mapping[str, tuple[str | None, str]],
        figures: Mapping[str, bytes],
    ) -> Path:
        """``report.md``, its tables (stem → CSV text or None, JSON text) and figures (file
        name under figures/ → bytes), as ``studies.report`` rendered them; returns the
        report's path."""
        if figures:
            (self.root / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
        for name, data in figures.items():
            (self.root / FIGURES_DIR / name).write_bytes(data)
        for name, (csv_text, json_text) in tables.items():
            if csv_text is not None:
                (self.root / f"{name}.csv").write_text(csv_text)
            (self.root / f"{name}.json").write_text(json_text)
        path = self.root / REPORT_FILE
        path.write_text(text)
        return path


def as_saved(members: Mapping[str, Config]) -> Any:
    """A run set's configs as its ``config.yaml`` holds them (one config, or label → config)."""
    resolved = (
        config_to_dict(next(iter(members.values())))
        if len(members) == 1
        else {k: config_to_dict(c) for k, c in members.items()}
    )
    return yaml.safe_load(yaml.safe_dump(resolved))


def read_text_of(path: Path) -> str:
    """A record file's text, decompressed when it is ``.gz``."""
    return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, source.read_bytes())


def _planned_epochs(set_dir: Path) -> int:
    """``train.epochs`` of a run set's ``config.yaml``: one config, or label → config (the
    engine's ``train_many``; every label shares the train section)."""
    path = set_dir / CONFIG
    if not path.is_file():
        raise ReportError(
            f"{path} not found: {set_dir} holds metrics but not the config the engine writes "
            "before training, so its planned epochs are unknown; rerun the study's "
            "jaxopt-lab compare command with --overwrite"
        )
    saved = read_config(set_dir)
    configs = [saved] if _is_config(saved) else list((saved or {}).values())
    epochs = {c["train"]["epochs"] for c in configs if _is_config(c)}
    if len(epochs) != 1 or not all(isinstance(e, int) for e in epochs):
        raise ReportError(f"{path}: no single train.epochs (found {sorted(epochs)})")
    return epochs.pop()


def _is_config(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("train"), dict) and "epochs" in doc["train"]


def _summary_for(set_dir: Path, planned: int) -> dict[str, Any]:
    """A run set's ``summary.json`` when it was written for the planned epochs, else ``{}``:
    a summary left from a shorter target (the set is being trained further) holds the test
    accuracy and wall time of other epochs."""
    summary = read_summary(set_dir) if (set_dir / SUMMARY).is_file() else {}
    return summary if summary.get("epochs_completed") == planned else {}


def _set_progress(set_dir: Path, rows: Sequence[str], *, where: str) -> RunSetProgress:
    """How far one run set got (not started: no ``metrics.jsonl``)."""
    if metrics_file(set_dir) is None:
        planned = _planned_epochs(set_dir) if (set_dir / CONFIG).is_file() else None
        return RunSetProgress(where, tuple(rows), planned, {}, summarized=False)
    planned = _planned_epochs(set_dir)
    reached: dict[str, int] = {}
    for rec in read_metrics(set_dir):
        run = str(rec.get("run", ""))
        reached[run] = max(reached.get(run, 0), int(rec.get("epoch", 0)))
    rows = tuple(rows) or tuple(dict.fromkeys(run.split("/", 1)[0] for run in reached))
    summarized = bool(_summary_for(set_dir, planned))
    return RunSetProgress(where, rows, planned, reached, summarized)


def _with_final_test(
    name: str, records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], planned: int
) -> list[RunCurve]:
    """The row's runs with their planned epochs, and the end-of-training test evaluation of
    ``summary.json`` (unless the engine evaluated the test set every epoch: then the last
    record holds the same)."""
    final_test = {r["run"]: r for r in summary.get("runs", []) if "test_accuracy" in r}
    out = []
    for curve in curves_from_records(name, records):
        test = final_test.get(curve.run)
        if test is not None:
            curve = dataclasses.replace(
                curve, test_accuracy=test.get("test_accuracy"), test_loss=test.get("test_loss")
            )
        out.append(dataclasses.replace(curve, planned_epochs=planned))
    return out

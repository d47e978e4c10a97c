"""A study's run directory: the only studies module that reads or writes one.

Layout (``Store(out_dir)``; the tuning study has one such layout per phase, ``sweep/`` and
``final/``, as ``store.child(name)``)::

    study.yaml        the resolved study (spec.spec_to_dict), written before anything runs
    runsets.json      {run-set directory: [row names]}: which directories hold this study's rows
    <run set>/        the engine's outputs (engine.outputs: config, metrics, summary)
    results.json      the results of a kind with its own loop (landscapes, second_order)
    report.md, <table>.csv / <table>.json, figures/*.png / *.gif    the report

A row's records are told apart within a run set by their run-id prefix, the row name.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import yaml
from matplotlib.animation import Animation, PillowWriter

from jaxopt_lab._typed_yaml import read_mapping
from jaxopt_lab.config import Config, config_to_dict
from jaxopt_lab.engine.outputs import CONFIG, METRICS, SUMMARY
from jaxopt_lab.studies.runs import RunCurve, curves_from_records
from jaxopt_lab.studies.sections import ReportParts
from jaxopt_lab.studies.spec import StudySpec, spec_from_dict, spec_to_dict

STUDY_FILE = "study.yaml"
RUNSETS_FILE = "runsets.json"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.md"
FIGURES_DIR = "figures"


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

    # --------------------------------------------------------------------- the study

    def write_spec(self, spec: StudySpec) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(spec_to_dict(spec), sort_keys=False)
        (self.root / STUDY_FILE).write_text(text)

    def read_spec(self) -> StudySpec:
        path = self.root / STUDY_FILE
        if not path.is_file():
            raise ReportError(
                f"{path} not found: {self.root} is not a study run directory "
                "(scripts/compare.py writes study.yaml first)"
            )
        return spec_from_dict(read_mapping(path, what="study"), source=str(path))

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
        if json.loads(summary.read_text()).get("epochs_completed") != first.train.epochs:
            return False
        resolved = (
            config_to_dict(first)
            if len(members) == 1
            else {k: config_to_dict(c) for k, c in members.items()}
        )
        return yaml.safe_load(saved.read_text()) == yaml.safe_load(yaml.safe_dump(resolved))

    def read_rows(self, names: Sequence[str]) -> RowData:
        """Each row's runs and its run set's summary, from the run sets listed in
        ``runsets.json`` (the runner writes it), else from every ``*/metrics.jsonl``.

        A run set may hold several rows; a record belongs to the row whose name prefixes its
        run id (``"<row>/lr=…/seed=…"``). A row with no record is an error naming it.
        """
        by_row: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        summaries: dict[str, dict[str, Any]] = {}
        index = self.root / RUNSETS_FILE
        if index.is_file():
            paths = [self.root / d / METRICS for d in json.loads(index.read_text())]
            paths = [p for p in paths if p.is_file()]
        else:  # a directory assembled by hand: every run set below it
            paths = sorted(self.root.glob(f"*/{METRICS}"))
        for metrics in paths:
            summary_path = metrics.parent / SUMMARY
            summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
            for rec in read_jsonl(metrics):
                row = str(rec.get("run", "")).split("/", 1)[0]
                if row in by_row:
                    by_row[row].append(rec)
                    summaries[row] = summary
        missing = [name for name, recs in by_row.items() if not recs]
        if missing:
            raise ReportError(
                f"{self.root}: no metrics for rows {missing}; they have not been trained — run "
                "scripts/compare.py again with the same --out (finished run sets are kept)"
            )
        runs = {
            name: _with_final_test(name, recs, summaries[name]) for name, recs in by_row.items()
        }
        return RowData(runs, summaries)

    # --------------------------------------------------------------------- own loops

    def write_results(self, results: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / RESULTS_FILE).write_text(json.dumps(results))

    def read_results(self) -> dict[str, Any]:
        path = self.root / RESULTS_FILE
        if not path.is_file():
            raise ReportError(f"{path} not found: run scripts/compare.py for this study first")
        return json.loads(path.read_text())

    # --------------------------------------------------------------------- the report

    def write_report(self, parts: ReportParts) -> Path:
        """Figures, tables (CSV and JSON) and ``report.md``; returns the report's path."""
        figures = self.root / FIGURES_DIR
        # PNGs first: saving an animation closes every open figure.
        for name, fig in sorted(parts.figures.items(), key=lambda kv: _is_gif(kv[1])):
            figures.mkdir(parents=True, exist_ok=True)
            if _is_gif(fig):
                fig.save(figures / name, writer=PillowWriter(fps=12), dpi=70)
                plt.close("all")
            else:
                fig.savefig(figures / name, dpi=110)
                plt.close(fig)
        for name, (records, payload) in parts.tables.items():
            if records is not None:
                with (self.root / f"{name}.csv").open("w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=list(records[0]))
                    writer.writeheader()
                    writer.writerows(records)
            text = json.dumps(payload, indent=2, default=_json_default)
            (self.root / f"{name}.json").write_text(text)
        path = self.root / REPORT_FILE
        path.write_text("\n".join(parts.lines).rstrip() + "\n")
        return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; a truncated last line (interrupted run) is skipped."""
    out = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:
                continue
            raise ReportError(f"{path}:{i + 1} is not JSON ({err}); the file is corrupt") from err
    return out


def _with_final_test(
    name: str, records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]
) -> list[RunCurve]:
    """The row's runs, with the end-of-training test evaluation of ``summary.json`` (unless
    the engine evaluated the test set every epoch: then the last record holds the same)."""
    final_test = {r["run"]: r for r in summary.get("runs", []) if "test_accuracy" in r}
    return [
        dataclasses.replace(
            c,
            test_accuracy=final_test[c.run].get("test_accuracy"),
            test_loss=final_test[c.run].get("test_loss"),
        )
        if c.run in final_test
        else c
        for c in curves_from_records(name, records)
    ]


def _is_gif(figure: Any) -> bool:
    return isinstance(figure, Animation)


def _json_default(x: Any) -> Any:
    if dataclasses.is_dataclass(x):
        return {k: _finite(v) for k, v in dataclasses.asdict(x).items()}
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot serialise {type(x).__name__}")


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v

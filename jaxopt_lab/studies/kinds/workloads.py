"""The workloads study: each workload of the lab trained as its reference trained it, its figure
set beside the published one.

Every row is one workload (``workload.name``) with one optimizer setting, trained on
``train.seeds``; rows of one workload train as one run set (its directory is the workload's
name). Each row is compared with a *reference* (``jaxopt_lab.workloads.base.Reference``): the
row's own ``reference:`` in the study file, else its workload's. Its metric, computed per run:

- ``val_accuracy``: the final epoch's validation accuracy;
- ``test_accuracy``, ``test_loss``: of the final parameters;
- ``steps_to_target``: optimizer steps until the validation accuracy first reaches the
  workload's ``target``, counted at epoch ends (a run that never reaches it counts as not
  reached: the row reports how many did);
- ``optimality_gap``: the final epoch's training loss (the mean over that epoch's batches, as
  the engine records it) less the workload's optimum, the minimum of the full training loss
  that ``run`` computes once (``Workload.optimum``) and stores in results.json.

A row's figure is the mean ± t-interval over its healthy runs; it *reproduces* the reference
within the reference's tolerance (accuracies absolute, losses relative, steps: at most the
reference's) on every seed (a seed that diverged or never reached the target fails it). An
optimality gap is a measure, not a published figure: it gets no verdict. The report also gives
each workload's cost on the machine that trained it: the median seconds per epoch of its run set
(all its seeds and rows at once, compilation excluded) and the run set's whole wall time.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from jaxopt_lab._typed_yaml import Where
from jaxopt_lab.config import Config
from jaxopt_lab.data import MNIST
from jaxopt_lab.data.splits import Split
from jaxopt_lab.studies import stats
from jaxopt_lab.studies.markdown import md_table
from jaxopt_lab.studies.runs import RunCurve
from jaxopt_lab.studies.runsets import (
    OnSet,
    Phase,
    load_data,
    row_configs,
    steps_per_epoch,
    train_phases,
)
from jaxopt_lab.studies.sections import ReportParts, header_lines, method_lines
from jaxopt_lab.studies.spec import StudySpec, require_rows
from jaxopt_lab.studies.store import Store
from jaxopt_lab.workloads import WORKLOADS, Reference, Workload
from jaxopt_lab.workloads import get as get_workload
from jaxopt_lab.workloads.base import REFERENCE_METRICS

Settings = None

# How each metric is read and compared: higher is better, and how the tolerance applies.
_HIGHER = {"val_accuracy", "test_accuracy"}


def check(spec: StudySpec, where: Where) -> None:
    require_rows(spec, where)
    for row in spec.rows:
        if row.reference is not None:
            try:
                _reference(row.reference)
            except (TypeError, ValueError) as error:
                raise where.error(f"rows[{row.name!r}].reference", str(error)) from None


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
    optima = {}
    for name, cfg in _convex(row_configs(spec, spec.rows)).items():
        loaded = data if data is not None else load_data(cfg)
        if cfg.data.train_size is not None:
            loaded = _first(loaded, cfg.data.train_size)
        optima[name] = get_workload(name).optimum(loaded)
    store.write_results({"optima": optima})


def plan(spec: StudySpec, store: Store) -> Iterator[Phase]:
    """One phase: the rows, each workload's rows in a run set named after it."""
    configs = row_configs(spec, spec.rows)
    yield Phase(None, list(spec.rows), {name: c.workload.name for name, c in configs.items()})


def report(spec: StudySpec, store: Store) -> ReportParts:
    configs = row_configs(spec, spec.rows)
    data = store.read_rows([r.name for r in spec.rows])
    optima = store.read_results().get("optima", {}) if _convex(configs) else {}
    records, lines = [], []
    for row in spec.rows:
        cfg = configs[row.name]
        workload = get_workload(cfg.workload.name)
        reference = _reference(row.reference) if row.reference else workload.reference
        runs = data.runs[row.name]
        steps = steps_per_epoch(cfg, None)
        values = [_value(r, reference.metric, workload, steps, optima) for r in runs]
        record = _record(row.name, cfg, workload, reference, runs, values, steps, spec)
        per_epoch, runs_in_set = record["seconds_per_epoch"], len(data.summaries[row.name]["runs"])
        record["seconds_per_run_epoch"] = None if per_epoch is None else per_epoch / runs_in_set
        records.append(record)
    summaries = data.summaries
    table = md_table(
        [
            "Workload",
            "Row",
            "Metric",
            "Ours (mean ± 95 % CI)",
            "Reference",
            "Reproduced",
            "Seconds / epoch (per run)",
            "Run set wall s",
        ],
        [
            [
                f"`{r['workload']}`",
                r["row"],
                r["metric"],
                r["ours"],
                f"{r['reference_text']} ({r['setting']}; {r['source']})",
                r["verdict"],
                f"{_seconds(r['seconds_per_epoch'])} ({_seconds(r['seconds_per_run_epoch'])})",
                _seconds(summaries[r["row"]].get("wall_seconds")),
            ]
            for r in records
        ],
    )
    figures = [r for r in records if r["metric"] != "optimality_gap"]
    reproduced = sum(r["reproduced"] is True for r in figures)
    headline = f"{reproduced} of {len(figures)} rows reproduce their published reference figure"
    lines += [
        *header_lines(spec, store),
        "## Results",
        "",
        headline + " (table below; a reference's tolerance is in docs/workloads.md). An "
        "optimality gap is a measure against the workload's computed optimum, not a published "
        "figure. Seconds per epoch are those of the workload's run set (all its rows and seeds "
        "in one program, compilation excluded), then per run.",
        "",
        table,
        "",
        *_target_lines(records),
        *_optimum_lines(optima),
        *_workload_lines(configs),
        *method_lines(spec, summaries),
    ]
    payload = {"headline": headline, "rows": records, "optima": optima}
    return ReportParts(lines, headline, tables={"workload_table": (records, payload)})


# --------------------------------------------------------------------------- per run


def _value(
    run: RunCurve, metric: str, workload: Workload, steps: int, optima: Mapping[str, Any]
) -> float | None:
    """The run's value of ``metric``; None when it diverged (or never reached the target)."""
    if run.diverged:
        return None
    if metric == "val_accuracy":
        return float(run.curves["val_accuracy"][-1])
    if metric == "test_accuracy":
        return run.test_accuracy
    if metric == "test_loss":
        return run.test_loss
    if metric == "steps_to_target":
        reached = np.nonzero(run.curves["val_accuracy"] >= workload.target)[0]
        return float(run.epochs[reached[0]] * steps) if reached.size else None
    if metric == "optimality_gap":
        return float(run.curves["train_loss"][-1]) - optima[workload.name]["train_loss"]
    raise ValueError(f"unknown reference metric {metric!r}")


def _record(
    row: str,
    cfg: Config,
    workload: Workload,
    reference: Reference,
    runs: Sequence[RunCurve],
    values: Sequence[float | None],
    steps: int,
    spec: StudySpec,
) -> dict[str, Any]:
    healthy = [v for v in values if v is not None]
    ci = stats.mean_ci(healthy, spec.report.confidence) if healthy else None
    missing = len(values) - len(healthy)
    ours = "—" if ci is None else _fmt_ci(reference.metric, ci)
    if missing:
        why = "not reached" if reference.metric == "steps_to_target" else "diverged"
        ours += f" ({missing} of {len(values)} {why})"
    if reference.metric == "optimality_gap":  # a measure: there is no figure to reproduce
        reproduced, verdict = None, "— (measured)"
    elif missing:  # a seed that diverged or never reached the target cannot count as reproduced
        reproduced, verdict = False, f"no ({missing} of {len(values)} {why})"
    else:
        reproduced = _reproduced(reference, ci.mean)
        verdict = (
            "yes"
            if reproduced
            else f"no ({_fmt_diff(reference.metric, ci.mean - reference.value)})"
        )
    seconds = [s for r in runs if r.seconds is not None for s in r.seconds]
    return {
        "row": row,
        "workload": workload.name,
        "optimizer": cfg.optimizer.name,
        "learning_rate": cfg.optimizer.learning_rate,
        "epochs": cfg.train.epochs,
        "steps_per_epoch": steps,
        "seeds": len(values),
        "metric": reference.metric,
        "values": values,
        "mean": None if ci is None else ci.mean,
        "half_width": None if ci is None else ci.half_width,
        "ours": ours,
        "reference": reference.value,
        "reference_text": _fmt(reference.metric, reference.value),
        "setting": reference.setting,
        "source": reference.source,
        "tolerance": reference.tolerance,
        "reproduced": reproduced,
        "verdict": verdict,
        "target": workload.target,
        "epochs_to_target": [_epochs_to(r, workload.target) for r in runs],
        "seconds_per_epoch": float(np.median(seconds)) if seconds else None,
    }


def _reproduced(reference: Reference, mean: float) -> bool:
    if reference.metric == "steps_to_target":
        return mean <= reference.value
    if reference.metric in _HIGHER:
        return abs(mean - reference.value) <= reference.tolerance
    return abs(mean - reference.value) <= reference.tolerance * abs(reference.value)


def _epochs_to(run: RunCurve, target: float | None) -> int | None:
    if target is None or run.diverged:
        return None
    reached = np.nonzero(run.curves["val_accuracy"] >= target)[0]
    return int(run.epochs[reached[0]]) if reached.size else None


# --------------------------------------------------------------------------- sections


def _target_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = []
    for r in records:
        if r["target"] is None:
            continue
        reached = [e for e in r["epochs_to_target"] if e is not None]
        median = f"{np.median(reached):g}" if reached else "—"
        steps = f"{np.median(reached) * r['steps_per_epoch']:,.0f}" if reached else "—"
        rows.append(
            [
                f"`{r['workload']}`",
                r["row"],
                f"{r['target']:.2f}",
                f"{len(reached)} of {r['seeds']}",
                median,
                steps,
            ]
        )
    if not rows:
        return []
    header = ["Workload", "Row", "Target", "Seeds reaching it", "Median epoch", "Median steps"]
    return [
        "## Time to target",
        "",
        "The first epoch whose validation accuracy reaches the workload's target (its "
        "`Workload.target`), and the optimizer steps up to that epoch's end.",
        "",
        md_table(header, rows),
        "",
    ]


def _optimum_lines(optima: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if not optima:
        return []
    return [
        "## Optima of the convex workloads",
        "",
        "Computed once by the study on the training split (`Workload.optimum`); an "
        "`optimality_gap` is the final training loss less `train_loss` here.",
        "",
        *(
            f"- `{name}`: " + ", ".join(f"{k} = {v:.6g}" for k, v in values.items())
            for name, values in optima.items()
        ),
        "",
    ]


def _workload_lines(configs: Mapping[str, Config]) -> list[str]:
    names = list(dict.fromkeys(c.workload.name for c in configs.values()))
    return [
        "## Workloads",
        "",
        *(f"- `{n}`: {WORKLOADS[n].title}." for n in names),
        "",
        "What each follows and where it departs from its reference: the docstring of "
        "`jaxopt_lab/workloads/<name>.py` and docs/workloads.md.",
        "",
    ]


# --------------------------------------------------------------------------- helpers


def _reference(doc: Mapping[str, Any]) -> Reference:
    """A row's ``reference:`` mapping as a ``Reference``."""
    if not isinstance(doc, Mapping):
        raise TypeError(f"expected a mapping {{metric, value, setting, source}}, got {doc!r}")
    reference = Reference(**doc)
    if reference.metric not in REFERENCE_METRICS:
        raise ValueError(
            f"metric {reference.metric!r} is not one of {', '.join(REFERENCE_METRICS)}"
        )
    if not isinstance(reference.value, int | float) or not math.isfinite(reference.value):
        raise ValueError(f"value must be a finite number, got {reference.value!r}")
    return reference


def _convex(configs: Mapping[str, Config]) -> dict[str, Config]:
    """The first row config of each workload that has an optimum, by workload name."""
    out: dict[str, Config] = {}
    for cfg in configs.values():
        if get_workload(cfg.workload.name).optimum is not None:
            out.setdefault(cfg.workload.name, cfg)
    return out


def _first(data: MNIST, size: int) -> MNIST:
    """``data`` with its first ``size`` training samples, as ``data.train_size`` trains."""
    train = Split(data.train.images[:size], data.train.labels[:size])
    return dataclasses.replace(data, train=train)


def _fmt(metric: str, value: float) -> str:
    if metric in _HIGHER:
        return f"{value:.4f}"
    if metric == "steps_to_target":
        return f"{value:,.0f} steps"
    return f"{value:.4g}"


def _fmt_ci(metric: str, ci: stats.MeanCI) -> str:
    if math.isnan(ci.half_width):
        return _fmt(metric, ci.mean)
    if metric == "steps_to_target":
        return f"{ci.mean:,.0f} ± {ci.half_width:,.0f} steps"
    if metric in _HIGHER:
        return f"{ci.mean:.4f} ± {ci.half_width:.4f}"
    return f"{ci.mean:.4g} ± {ci.half_width:.2g}"


def _fmt_diff(metric: str, diff: float) -> str:
    if metric in _HIGHER:
        return f"{diff * 100:+.2f} points"
    if metric == "steps_to_target":
        return f"{diff:+,.0f} steps"
    return f"{diff:+.4g}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if value >= 10 else f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"

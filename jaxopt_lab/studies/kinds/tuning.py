"""The tuning study: a learning-rate sweep per optimizer, then the comparison re-run at the tuned
rates, against the same optimizers at their default rates.

Phase 1 (``sweep/``): each row trains a log grid of learning rates × ``sweep_seeds`` in one
vmapped run set. The tuned rate of a row maximises the mean over seeds of ``metric`` (a
validation metric) among grid rates where no seed diverged; a rate at the edge of the grid is
flagged, since the optimum may lie outside it.

Phase 2 (``final/``): every row twice — ``<row> default`` and ``<row> tuned`` — on
``final_seeds``, seeds not used for the selection, so the winner's curse of picking the best of
many noisy means does not inflate the tuned numbers (the validation set is the same; the test
accuracy is the untouched estimate). Whether tuning changes the ranking is read off the two
rankings and Kendall's τ between them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from jaxopt_lab._typed_yaml import Where, one_of
from jaxopt_lab.data import MNIST
from jaxopt_lab.studies import markdown, plots
from jaxopt_lab.studies.aggregate import ArmSummary, ranking, summarize_arms
from jaxopt_lab.studies.conclusions import METRIC_NAMES, fmt_value
from jaxopt_lab.studies.runs import METRICS
from jaxopt_lab.studies.runsets import OnSet, Phase, train_phases
from jaxopt_lab.studies.sections import (
    ReportParts,
    comparison_section,
    header_lines,
    method_lines,
)
from jaxopt_lab.studies.spec import LogGrid, Row, StudySpec, check_grid, require_rows
from jaxopt_lab.studies.store import Store


@dataclasses.dataclass(frozen=True)
class Settings:
    """The ``tuning:`` section: the study's grid (a row's ``grid`` replaces it for that row),
    the seeds of each phase and the metric the tuned rate maximises (or minimises)."""

    grid: LogGrid | list[float] = dataclasses.field(default_factory=lambda: LogGrid(1e-4, 1.0, 9))
    sweep_seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2])
    final_seeds: list[int] = dataclasses.field(default_factory=lambda: [10, 11, 12, 13, 14])
    metric: str = "final_val_accuracy"


def check(spec: StudySpec, where: Where) -> None:
    require_rows(spec, where)
    one_of(where, "tuning.metric", spec.settings.metric, tuple(METRICS))
    check_grid(spec.settings.grid, "tuning.grid", where)
    for i, row in enumerate(spec.rows):
        if row.default_learning_rate is None:
            raise where.error(
                f"rows[{i}].default_learning_rate",
                f"missing: tuning row {row.name!r} needs `default_learning_rate` (its usual rate)",
            )


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
    """The sweep (``sweep/``), then the re-runs at the rates it tuned (``final/``)."""
    sweep = sweep_rows(spec)
    yield Phase("sweep", sweep)
    rows = store.child("sweep").read_rows([r.name for r in sweep])
    best = best_learning_rates(
        summarize_arms(rows.runs, spec.report.target_accuracy), spec.settings.metric
    )
    yield Phase("final", final_rows(spec, best))


def report(spec: StudySpec, store: Store) -> ReportParts:
    cfg, metric = spec.settings, spec.settings.metric
    target, confidence = spec.report.target_accuracy, spec.report.confidence
    sweep_spec = dataclasses.replace(spec, rows=sweep_rows(spec))
    sweep = store.child("sweep").read_rows([r.name for r in sweep_spec.rows])
    sweep_arms = summarize_arms(sweep.runs, target, sweep.wall_seconds, confidence)
    best = best_learning_rates(sweep_arms, metric)
    lines = [
        *header_lines(spec, store),
        "## Phase 1: learning-rate sweep",
        "",
        f"Each row trains the grid {', '.join(f'{x:.3g}' for x in grid_points(cfg.grid))} × "
        f"seeds {cfg.sweep_seeds} as one vmapped run set; the tuned rate maximises the mean "
        f"{METRIC_NAMES[metric]} among rates where no seed diverged.",
        "",
        "![tuning curves](figures/tuning_curves.png)",
        "",
        markdown.md_table(
            ["row", "default lr", "tuned lr", f"mean {metric} at tuned lr", "note"],
            [_sweep_cells(r, best[r.name], metric) for r in spec.rows],
        ),
        "",
    ]
    final_spec = dataclasses.replace(
        spec,
        rows=final_rows(spec, best),
        report=dataclasses.replace(spec.report, primary_metric=metric),
    )
    final = store.child("final").read_rows([r.name for r in final_spec.rows])
    arms = summarize_arms(final.runs, target, final.wall_seconds, confidence)
    section = comparison_section(
        final_spec,
        arms,
        prefix="final_",
        title=f"Phase 2: default vs tuned rates on fresh seeds {cfg.final_seeds}",
    )
    rank = ranking_sentences(arms, metric)
    lines += [
        *section.lines,
        "### Does tuning change the ranking?",
        "",
        *(f"- {s}" for s in rank),
        "",
        *method_lines(
            sweep_spec, {**sweep.summaries, **{f"final {k}": v for k, v in final.summaries.items()}}
        ),
    ]
    sweep_table = {"arms": markdown.table_records(sweep_arms), "best": best, "ranking": rank}
    figure = plots.tuning_figure(tuning_curves(sweep_arms, metric), METRIC_NAMES[metric])
    return ReportParts(
        lines,
        section.headline,
        tables={**section.tables, "sweep_table": (None, sweep_table)},
        figures={"tuning_curves.png": figure, **section.figures},
    )


def grid_points(grid: LogGrid | list[float]) -> list[float]:
    """The rates of a grid: an explicit list, or ``geomspace(min, max, num)``."""
    return list(grid) if isinstance(grid, list) else grid.points()


def sweep_rows(spec: StudySpec) -> list[Row]:
    """Phase-1 rows: each row with its (or the study's) grid as a learning-rate list."""
    cfg = spec.settings
    return [
        dataclasses.replace(
            row,
            set={
                **row.set,
                "optimizer.learning_rate": grid_points(cfg.grid if row.grid is None else row.grid),
                "train.seeds": list(cfg.sweep_seeds),
            },
        )
        for row in spec.rows
    ]


def best_learning_rates(arms: Sequence[ArmSummary], metric: str) -> dict[str, dict[str, Any]]:
    """Per row: the tuned rate, its mean, and whether it sits at the grid's edge."""
    higher = METRICS[metric]
    out = {}
    for row in dict.fromkeys(a.row for a in arms):
        mine = sorted((a for a in arms if a.row == row), key=lambda a: a.learning_rate)
        ok = [a for a in mine if a.n_diverged == 0 and a.cis[metric] is not None]
        if not ok:
            out[row] = {"learning_rate": None, "mean": None, "at_edge": False}
            continue
        best = (max if higher else min)(ok, key=lambda a: a.cis[metric].mean)
        edge = best.learning_rate in (mine[0].learning_rate, mine[-1].learning_rate)
        out[row] = {
            "learning_rate": best.learning_rate,
            "mean": best.cis[metric].mean,
            "at_edge": edge,
        }
    return out


def final_rows(spec: StudySpec, best: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """Phase-2 rows: ``<row> default`` and ``<row> tuned`` on the final seeds. When tuning
    picks the default rate, only the default row is trained (the tuned one would repeat it run
    for run) and stands for both in the rankings."""
    rows = []
    for row in spec.rows:
        default = row.default_learning_rate
        tuned = best.get(row.name, {}).get("learning_rate")
        for tag, lr in (("default", default), ("tuned", tuned)):
            if lr is None or (tag == "tuned" and math.isclose(lr, default)):
                continue
            rows.append(
                Row(
                    name=f"{row.name} {tag}",
                    group=row.name,
                    variant=tag,
                    set={
                        **row.set,
                        "optimizer.learning_rate": float(lr),
                        "train.seeds": list(spec.settings.final_seeds),
                    },
                )
            )
    return rows


def tuning_curves(
    arms: Sequence[ArmSummary], metric: str
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per row: learning rates, mean and CI half-width of ``metric``, fraction of seeds diverged."""
    out = {}
    for row in dict.fromkeys(a.row for a in arms):
        mine = sorted((a for a in arms if a.row == row), key=lambda a: a.learning_rate)
        lrs = np.array([a.learning_rate for a in mine])
        mean = np.array([a.cis[metric].mean if a.cis[metric] else np.nan for a in mine])
        half = np.array(
            [
                0.0
                if not a.cis[metric] or math.isnan(a.cis[metric].half_width)
                else a.cis[metric].half_width
                for a in mine
            ]
        )
        div = np.array([a.n_diverged / a.n_runs for a in mine])
        out[row] = (lrs, mean, half, div)
    return out


def ranking_sentences(arms: Sequence[ArmSummary], metric: str) -> list[str]:
    """Rank the default rows and the tuned rows separately; does the order change?"""
    default = {a.label.removesuffix(" default"): a for a in arms if a.label.endswith(" default")}
    tuned = {a.label.removesuffix(" tuned"): a for a in arms if a.label.endswith(" tuned")}
    tuned = {row: tuned.get(row, arm) for row, arm in default.items()}  # tuned rate = default
    by_variant: dict[str, list[str]] = {}
    for tag, chosen in (("default", default), ("tuned", tuned)):
        order = ranking(list(chosen.values()), metric)
        back = {a.label: row for row, a in chosen.items()}
        by_variant[tag] = [back[label] for label in order]
    d, t = by_variant["default"], by_variant["tuned"]
    name = metric.replace("_", " ")
    out = [
        f"Order by mean {name} at default rates (best first): {', '.join(d)}.",
        f"Order by mean {name} at tuned rates (best first): {', '.join(t)}.",
    ]
    common = [r for r in d if r in t]
    if len(common) >= 2:
        tau = sps.kendalltau([d.index(r) for r in common], [t.index(r) for r in common]).statistic
        if d == t:
            verdict = "Tuning left the ranking unchanged"
        elif d[0] != t[0]:
            verdict = f"Tuning changed the leader from {d[0]} to {t[0]}"
        else:
            verdict = f"Tuning kept {d[0]} first and reshuffled the ranking below it"
        out.append(f"{verdict} (Kendall τ = {tau:.2f} between the two orders).")
    return out


def _sweep_cells(row: Row, best: Mapping[str, Any], metric: str) -> list[str]:
    """One row of the phase-1 table: default and tuned rate, the tuned mean, a note."""
    notes = []
    if best["learning_rate"] is not None and math.isclose(
        best["learning_rate"], row.default_learning_rate
    ):
        notes.append("= default (phase 2 trains it once)")
    if best["at_edge"]:
        notes.append("at the grid's edge: widen the grid")
    return [
        row.name,
        f"{row.default_learning_rate:.3g}",
        "all diverged" if best["learning_rate"] is None else f"{best['learning_rate']:.3g}",
        "n/a" if best["mean"] is None else fmt_value(metric, best["mean"]),
        "; ".join(notes),
    ]

"""Markdown pieces of the reports: tables and cells, pure functions of aggregated numbers.

A cell never shows a NaN: an arm whose runs all diverged reads ``diverged``, a metric no run
reached reads ``not reached``, a missing value ``n/a``. A partial arm (some run stopped before its
planned epochs) says so in its label cell, and the *final* columns are headed *partial* whenever
one arm is: their numbers are those of the last epoch reached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from jaxopt_lab.studies import conclusions, plots, stats
from jaxopt_lab.studies.aggregate import ArmSummary, mean_curve_at
from jaxopt_lab.studies.runs import METRICS

COLUMNS = {
    "final_val_accuracy": "final val acc",
    "best_val_accuracy": "best val acc",
    "final_train_loss": "final train loss",
    "final_val_loss": "final val loss",
    "test_accuracy": "test acc",
    "epochs_to_target": "epochs to {target:.0%}",
}
# The columns read at the last epoch, which an interrupted run has not reached.
FINAL_COLUMNS = ("final_val_accuracy", "final_train_loss", "final_val_loss")


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def metric_cell(arm: ArmSummary, metric: str) -> str:
    """A table cell: mean ± CI; "diverged" / "not reached (k/n)" instead of a NaN."""
    if arm.all_diverged:
        return "diverged"
    ci = arm.cis[metric]
    healthy = arm.n_runs - arm.n_diverged
    if metric == "epochs_to_target":
        if arm.n_reached == 0:
            return "not reached"
        cell = conclusions.fmt_ci(metric, ci)
        return cell if arm.n_reached == healthy else f"{cell} ({arm.n_reached}/{healthy} reached)"
    return conclusions.fmt_ci(metric, ci)


def runs_cell(arm: ArmSummary) -> str:
    return f"{arm.n_runs} ({arm.n_diverged} diverged)" if arm.n_diverged else str(arm.n_runs)


def arm_cell(arm: ArmSummary) -> str:
    """The arm's label, and for a partial arm the epoch its runs reached: ``SGD (⚠ partial:
    epoch 1 of 3)``."""
    short = [r for r in arm.runs if not r.complete]
    if not short:
        return arm.label
    lo, hi = min(r.reached_epoch for r in short), max(r.reached_epoch for r in short)
    at = str(lo) if lo == hi else f"{lo}–{hi}"
    return f"{arm.label} (⚠ partial: epoch {at} of {short[0].planned_epochs})"


def headline_table(arms: Sequence[ArmSummary], target: float) -> str:
    partial = any(not r.complete for a in arms for r in a.runs)
    header = [
        "arm",
        *(
            c.format(target=target) + (" (partial)" if partial and m in FINAL_COLUMNS else "")
            for m, c in COLUMNS.items()
        ),
        "wall s",
        "runs",
    ]
    rows = []
    for a in arms:
        wall = "n/a" if a.wall_seconds is None else f"{a.wall_seconds:.1f}"
        rows.append([arm_cell(a), *(metric_cell(a, m) for m in COLUMNS), wall, runs_cell(a)])
    return md_table(header, rows)


def tests_tables(tests: Mapping[str, Sequence[stats.PairedTest]], alpha: float) -> list[str]:
    out = []
    for metric, family in tests.items():
        out.append(f"**{conclusions.METRIC_NAMES[metric]}** (Δ = mean of first − second)\n")
        rows = [
            [
                f"{t.a} vs {t.b}",
                t.n,
                "n/a" if math.isnan(t.mean_diff) else f"{t.mean_diff:+.4f}",
                conclusions.fmt_p(t.t_p),
                conclusions.fmt_p(t.t_p_holm),
                conclusions.fmt_p(t.wilcoxon_p),
                conclusions.fmt_p(t.wilcoxon_p_holm),
                "yes" if t.t_p_holm < alpha else "no",
            ]
            for t in family
        ]
        out.append(
            md_table(
                [
                    "pair",
                    "n",
                    "Δ",
                    "t-test p",
                    "Holm p",
                    "Wilcoxon p",
                    "Wilcoxon Holm p",
                    f"significant (Holm t, {alpha:g})",
                ],
                rows,
            )
        )
        out.append("")
    return out


def notebook_table(arms: Sequence[ArmSummary], notebook: Mapping[str, Mapping[str, Any]]) -> str:
    """Notebook's single-run numbers beside our mean ± CI at the same epochs."""
    cols: list[tuple[str, int]] = []
    for ref in notebook.values():
        for key, by_epoch in ref.items():
            for ep in by_epoch:
                if (key, int(ep)) not in cols:
                    cols.append((key, int(ep)))
    header = [
        "arm",
        *(f"{plots.CURVE_TITLES.get(k, k)} ep {ep}: notebook / ours" for k, ep in cols),
    ]
    rows = []
    for a in arms:
        ref = notebook.get(a.row)
        if not ref:
            continue
        cells = [a.label]
        for key, ep in cols:
            nb = {int(e): v for e, v in ref.get(key, {}).items()}.get(ep)
            ours = mean_curve_at(a, key, ep)
            cells.append(
                f"{'—' if nb is None else f'{nb:.4f}'} / "
                f"{'n/a' if ours is None else conclusions.fmt_ci(key, ours)}"
            )
        rows.append(cells)
    return md_table(header, rows)


def table_records(arms: Sequence[ArmSummary]) -> list[dict[str, Any]]:
    """One flat record per arm (the CSV row); per-seed values live in the JSON only."""
    out = []
    for a in arms:
        rec: dict[str, Any] = {
            "arm": a.label,
            "row": a.row,
            "optimizer": a.optimizer,
            "learning_rate": a.learning_rate,
            "n_runs": a.n_runs,
            "n_diverged": a.n_diverged,
            "n_reached_target": a.n_reached,
            "wall_seconds": a.wall_seconds,
        }
        for m in METRICS:
            ci = a.cis[m]
            rec[f"{m}_mean"] = None if ci is None else ci.mean
            rec[f"{m}_ci95"] = None if ci is None or math.isnan(ci.half_width) else ci.half_width
            rec[f"{m}_n"] = 0 if ci is None else ci.n
        out.append(rec)
    return out

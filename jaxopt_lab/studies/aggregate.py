"""Per-arm aggregation over seeds and pairwise tests: the numbers every study report shows.

An *arm* is one row of a study at one set of hyperparameters (one learning rate of a sweep);
its runs differ only by seed. Each metric of an arm is the mean ± 95 % t-interval over its
healthy runs (:func:`jaxopt_lab.studies.stats.mean_ci`); diverged runs are counted, not averaged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from jaxopt_lab.studies import stats
from jaxopt_lab.studies.runs import METRICS, RunCurve, run_metrics


@dataclasses.dataclass(frozen=True)
class ArmSummary:
    """One arm: its runs, per-metric values by seed, and their mean ± CI (``None`` if no value)."""

    label: str
    row: str
    optimizer: str
    hparams: dict[str, Any]
    runs: tuple[RunCurve, ...]
    values: dict[str, dict[int, float]]
    cis: dict[str, stats.MeanCI | None]
    wall_seconds: float | None
    confidence: float = 0.95

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    @property
    def n_diverged(self) -> int:
        return sum(r.diverged for r in self.runs)

    @property
    def n_reached(self) -> int:
        return len(self.values["epochs_to_target"])

    @property
    def learning_rate(self) -> float | None:
        return self.runs[0].learning_rate

    @property
    def all_diverged(self) -> bool:
        return self.n_diverged == self.n_runs


def summarize_arms(
    runs_by_row: Mapping[str, Sequence[RunCurve]],
    target: float,
    wall_seconds: Mapping[str, float | None] | None = None,
    confidence: float = 0.95,
) -> list[ArmSummary]:
    """Group each row's runs into arms and aggregate every metric of :data:`METRICS`.

    The arm label is the row name, plus ``lr=…`` when a row holds several learning rates.
    Raises ``ValueError`` if two runs of one arm share a seed (two runs cannot pair by seed).
    """
    wall_seconds = wall_seconds or {}
    arms = []
    for row, runs in runs_by_row.items():
        groups: dict[str, list[RunCurve]] = {}
        for r in runs:
            groups.setdefault(r.arm, []).append(r)
        for arm_runs in groups.values():
            seeds = [r.seed for r in arm_runs]
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"row {row!r}: an arm holds seeds {seeds} more than once")
            label = row
            if len(groups) > 1:
                label = f"{row} lr={arm_runs[0].learning_rate:g}"
            values: dict[str, dict[int, float]] = {m: {} for m in METRICS}
            for r in arm_runs:
                for m, v in run_metrics(r, target).items():
                    if v is not None:
                        values[m][r.seed] = v
            cis = {
                m: stats.mean_ci(list(v.values()), confidence) if v else None
                for m, v in values.items()
            }
            arms.append(
                ArmSummary(
                    label=label,
                    row=row,
                    optimizer=arm_runs[0].optimizer,
                    hparams=arm_runs[0].hparams,
                    runs=tuple(sorted(arm_runs, key=lambda r: r.seed)),
                    values=values,
                    cis=cis,
                    wall_seconds=wall_seconds.get(row),
                    confidence=confidence,
                )
            )
    return arms


def comparisons(arms: Sequence[ArmSummary]) -> dict[str, list[stats.PairedTest]]:
    """For each metric, all pairwise paired tests between arms, Holm-corrected per metric.

    Arms with no value for a metric (every run diverged, or never reached the target) are left
    out of that metric's family: there is nothing to pair, and an untestable pair must not
    inflate Holm's multiplier.
    """
    out = {}
    for m in METRICS:
        present = {a.label: a.values[m] for a in arms if a.values[m]}
        if len(present) >= 2:
            out[m] = stats.pairwise_tests(present)
    return out


def lost_seeds(arm: ArmSummary, metric: str) -> int:
    """Seeds of ``arm`` without a value of ``metric``: diverged or, for epochs to target, never
    reached it."""
    return arm.n_runs - len(arm.values[metric])


def ranking(arms: Sequence[ArmSummary], metric: str) -> list[str]:
    """Arm labels from best to worst of ``metric``; arms without a value come last.

    A lost seed (``lost_seeds``) counts against its arm: arms with a value on every seed come
    first, by mean; then arms that lost seeds, fewest lost first, then by the mean of the rest.
    Averaging only the survivors would rank an arm that diverged on 2 of 6 seeds first.
    """
    higher = METRICS[metric]

    def key(a: ArmSummary) -> tuple[bool, int, float]:
        ci = a.cis[metric]
        if ci is None:
            return (True, 0, math.inf)
        return (False, lost_seeds(a, metric), -ci.mean if higher else ci.mean)

    return [a.label for a in sorted(arms, key=key)]


def curve_values_at(arm: ArmSummary, key: str, epoch: int) -> list[float]:
    """One value per healthy run of a curve (e.g. ``val_accuracy``) at one epoch."""
    vals = []
    for r in arm.runs:
        if r.diverged:
            continue
        hit = [i for i, e in enumerate(r.epochs) if e == epoch]
        if hit and math.isfinite(r.curves[key][hit[0]]):
            vals.append(float(r.curves[key][hit[0]]))
    return vals


def mean_curve_at(arm: ArmSummary, key: str, epoch: int) -> stats.MeanCI | None:
    """Mean ± CI over healthy runs of a curve at one epoch; ``None`` if no run got there."""
    vals = curve_values_at(arm, key, epoch)
    return stats.mean_ci(vals, arm.confidence) if vals else None

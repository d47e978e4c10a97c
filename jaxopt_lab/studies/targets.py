"""Time to target in the AlgoPerf sense, its bootstrap interval over seeds, and performance
profiles.

A run's *time to target* is when its validation accuracy first reaches the target (≥), in
optimizer steps and in wall seconds (Dahl et al. 2023, "Benchmarking Neural Network Training
Algorithms", the AlgoPerf benchmark). The engine evaluates the validation set once per epoch,
so the resolution is one epoch: a run that reaches the target during epoch e is timed at the end
of epoch e, steps = e × steps per epoch, seconds = the sum of its run set's first e epoch times
(compilation excluded). A run that never reaches the target is *not reached*: its time is
``inf``, never a number, so no mean is taken over times. A run that reached the target before
it diverged keeps its time, as in AlgoPerf (the target was reached).

An arm's time is the median over its seeds with ``inf`` ordered last: it is ``inf`` (not
reached) when at least half of its seeds never reach the target. Its interval is the percentile
bootstrap of that median over seeds (``stats.bootstrap_ci``, seeded); an upper end ``inf``
says that in more than (1 − c)/2 of the resamples the median was not reached.

A *performance profile* (Dolan & Moré 2002, as AlgoPerf scores submissions) compares solvers
s over problems p, here the target levels: r_{p,s} = t_{p,s} / min_s t_{p,s}, and
ρ_s(τ) = |{p : r_{p,s} ≤ τ}| / |P|, the fraction of targets s reaches within τ times the best
time. ρ_s(1) is the fraction of targets s is fastest on; an unreached target counts for no τ.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from jaxopt_lab.studies import stats
from jaxopt_lab.studies.runs import RunCurve, epochs_to_target


@dataclasses.dataclass(frozen=True)
class RunTime:
    """One run's time to a target: the epoch (None: not reached), steps and seconds
    (``inf``: not reached; seconds ``nan`` when the records hold no epoch times)."""

    epoch: int | None
    steps: float
    seconds: float

    @property
    def reached(self) -> bool:
        return self.epoch is not None


@dataclasses.dataclass(frozen=True)
class ArmTime:
    """An arm's median time over seeds and its bootstrap interval, in steps and in seconds;
    ``reached`` of ``n`` seeds reached the target."""

    steps: float
    steps_ci: tuple[float, float]
    seconds: float
    seconds_ci: tuple[float, float]
    reached: int
    n: int


def run_time(run: RunCurve, target: float, steps_per_epoch: int) -> RunTime:
    """When ``run`` first reached ``target`` validation accuracy (see the module docstring)."""
    epoch = epochs_to_target(run.curves["val_accuracy"], run.epochs, target)
    if epoch is None:
        return RunTime(None, math.inf, math.inf)
    seconds = math.nan
    if run.seconds is not None:
        seconds = float(np.sum(run.seconds[run.epochs <= epoch]))
    return RunTime(epoch, float(epoch * steps_per_epoch), seconds)


def median_time(times: Sequence[float]) -> float:
    """The median with ``inf`` (not reached) ordered last; ``inf`` when half or more are."""
    x = np.sort(np.asarray(times, dtype=np.float64))
    if x.size == 0:
        return math.inf
    # The upper of the two middle values for an even count: one unreached seed of two is
    # not reached, never the mean of a time and infinity.
    return float(x[x.size // 2])


def arm_time(
    runs: Sequence[RunCurve],
    target: float,
    steps_per_epoch: int,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> ArmTime:
    """Median time to ``target`` over the arm's seeds with bootstrap intervals."""
    times = [run_time(r, target, steps_per_epoch) for r in runs]
    steps = [t.steps for t in times]
    seconds = [t.seconds for t in times]
    opts = {"confidence": confidence, "resamples": resamples, "seed": seed}
    has_seconds = not any(math.isnan(s) for s in seconds)
    return ArmTime(
        steps=median_time(steps),
        steps_ci=stats.bootstrap_ci(steps, median_time, **opts),
        seconds=median_time(seconds) if has_seconds else math.nan,
        seconds_ci=(
            stats.bootstrap_ci(seconds, median_time, **opts)
            if has_seconds
            else (math.nan, math.nan)
        ),
        reached=sum(t.reached for t in times),
        n=len(times),
    )


def profile_ratios(times: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """r_{p,s} = t_{p,s} / min_s t_{p,s} per solver (``times[s][p]``; ``inf``: not reached).
    A problem no solver reaches gives every solver ``inf``."""
    table = np.array([list(t) for t in times.values()], dtype=np.float64)
    if table.size == 0:
        return {}
    best = np.min(table, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(np.isfinite(table) & np.isfinite(best), table / best, np.inf)
    return {name: ratios[i] for i, name in enumerate(times)}


def profile(ratios: np.ndarray, taus: Sequence[float]) -> np.ndarray:
    """ρ(τ): the fraction of problems whose ratio is ≤ τ, for each τ."""
    r = np.asarray(ratios, dtype=np.float64)
    return np.array([float(np.mean(r <= tau)) for tau in taus])


def profile_taus(ratios: Mapping[str, np.ndarray]) -> np.ndarray:
    """The τ at which some profile steps (1 and every finite ratio), and a little beyond."""
    finite = sorted({1.0, *(float(x) for r in ratios.values() for x in r if np.isfinite(x))})
    return np.array([*finite, finite[-1] * 1.25])

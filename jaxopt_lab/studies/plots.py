"""Figures of the study reports (matplotlib, Agg backend). Each function returns a ``Figure``
(or an ``Animation``); :mod:`jaxopt_lab.studies.store` saves it, so nothing here touches the
file system.

Bands are the 95 % t-interval of the mean over seeds at each epoch (or learning rate), the same
interval as the tables, so a band and a table cell never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from jaxopt_lab.studies import stats
from jaxopt_lab.studies.aggregate import ArmSummary
from jaxopt_lab.studies.runs import curve_stack
from jaxopt_lab.studies.targets import profile, profile_taus

LEGEND_INSIDE = 12  # the most arms whose legend fits inside the last panel

CURVE_TITLES = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
}


def nan_for_none(values: Sequence[float | None]) -> np.ndarray:
    """A stored series (``None`` where the value was not finite) as floats with NaN gaps."""
    return np.array([np.nan if x is None else x for x in values], dtype=float)


def band(values: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and t-interval half-width of ``[n_runs, n_points]`` (0 when n < 2)."""
    cis = [stats.mean_ci(col, confidence) for col in values.T]
    mean = np.array([c.mean for c in cis])
    half = np.array([0.0 if np.isnan(c.half_width) else c.half_width for c in cis])
    return mean, half


def curves_figure(arms: Sequence[ArmSummary], keys: Sequence[str] = tuple(CURVE_TITLES)) -> Figure:
    """The notebook's figure — loss and accuracy per epoch — with a band over seeds per arm.

    Arms whose every run diverged are listed in the legend as diverged, without a line.
    """
    fig, axes = plt.subplots(1, len(keys), figsize=(5.0 * len(keys), 4.0), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for i, arm in enumerate(arms):
            color = f"C{i % 10}"
            epochs, vals = curve_stack(arm.runs, key)
            if vals.shape[0] == 0:
                ax.plot([], [], color=color, ls=":", label=f"{arm.label} (diverged)")
                continue
            # Healthy runs are finite throughout; the mask only guards against a stray null.
            finite = np.all(np.isfinite(vals), axis=0)
            epochs, vals = epochs[finite], vals[:, finite]
            mean, half = band(vals, arm.confidence)
            suffix = f" ({arm.n_diverged} diverged)" if arm.n_diverged else ""
            ax.plot(epochs, mean, color=color, label=arm.label + suffix, marker=".", ms=3)
            ax.fill_between(epochs, mean - half, mean + half, color=color, alpha=0.2, lw=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(CURVE_TITLES.get(key, key))
        if "loss" in key:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if len(labels) <= LEGEND_INSIDE:
        axes[0][-1].legend(fontsize=8)
        fig.tight_layout()
        return fig
    # Many arms (the field study's 38): the legend below the axes, in columns, on a taller figure.
    columns = len(keys) + 1
    legend_height = 0.2 * math.ceil(len(labels) / columns) + 0.2
    fig.set_figheight(4.0 + legend_height)
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0.0, legend_height / (4.0 + legend_height), 1.0, 1.0))
    return fig


def tuning_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    metric_label: str = "final validation accuracy",
) -> Figure:
    """Tuning curves, one panel per optimizer: metric vs learning rate (log axis), band over
    seeds clipped to [0, 1] (an accuracy's t-interval can overshoot with few seeds), the best rate
    marked, and ✕ at the bottom where every seed diverged.

    ``curves[row] = (learning_rates, mean, half_width, diverged_fraction)``.
    """
    n = len(curves)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False, sharey=True
    )
    peaks = [np.nanmax(m) for _, m, _, _ in curves.values() if np.any(np.isfinite(m))]
    bottom = max(0.0, min(peaks) - 0.15) if peaks else 0.0
    for i, (row, (lrs, mean, half, div)) in enumerate(curves.items()):
        ax = axes.ravel()[i]
        color = f"C{i % 10}"
        ok = np.isfinite(mean)
        low, high = np.clip(mean - half, 0.0, 1.0), np.clip(mean + half, 0.0, 1.0)
        ax.plot(lrs[ok], mean[ok], marker="o", ms=3, color=color)
        ax.fill_between(lrs[ok], low[ok], high[ok], color=color, alpha=0.2, lw=0)
        if np.any(ok):
            best = (
                int(np.nanargmax(np.where(div == 0, mean, np.nan)))
                if np.any((div == 0) & ok)
                else None
            )
            if best is not None:
                ax.axvline(lrs[best], color=color, ls=":", lw=1)
        dead = div >= 1.0
        if np.any(dead):
            ax.plot(lrs[dead], np.full(dead.sum(), bottom), "x", color="k", clip_on=False)
        ax.set_xscale("log")
        ax.set_ylim(bottom, 1.0)
        ax.set_title(row, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.supxlabel("learning rate")
    fig.supylabel(metric_label)
    fig.suptitle("tuning curves (dotted: chosen rate; ✕: every seed diverged)", fontsize=10)
    fig.tight_layout()
    return fig


def sensitivity_figure(
    rows: Mapping[str, Mapping[str, Any]], metric_label: str = "final validation accuracy"
) -> Figure:
    """Random-search trials, one panel per optimizer: each trial's mean metric against its
    learning rate (log axis), the chosen trial starred, the default rate dashed, ✕ at the bottom
    for a trial where some seed diverged. No line joins the points: the trials differ in other
    hyperparameters too.

    ``rows[name]``: ``learning_rates``, ``means`` (nan for a diverged trial), ``diverged``
    (bool), ``chosen`` (an index or None) and ``default`` (the default rate).
    """
    n = len(rows)
    cols = min(4, n)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(
        nrows, cols, figsize=(3.4 * cols, 2.7 * nrows), squeeze=False, sharey=True
    )
    finite = [np.nanmax(r["means"]) for r in rows.values() if np.any(np.isfinite(r["means"]))]
    lows = [np.nanmin(r["means"]) for r in rows.values() if np.any(np.isfinite(r["means"]))]
    bottom = max(0.0, min(lows) - 0.02) if lows else 0.0
    top = min(1.0, max(finite) + 0.01) if finite else 1.0
    for i, (name, r) in enumerate(rows.items()):
        ax = axes.ravel()[i]
        color = f"C{i % 10}"
        lrs, means = np.asarray(r["learning_rates"]), np.asarray(r["means"])
        ok = np.isfinite(means)
        ax.plot(lrs[ok], means[ok], "o", ms=4, color=color, alpha=0.8)
        dead = np.asarray(r["diverged"], dtype=bool)
        if np.any(dead):
            ax.plot(lrs[dead], np.full(dead.sum(), bottom), "x", color="k", clip_on=False)
        if r["chosen"] is not None:
            k = r["chosen"]
            ax.plot(lrs[k], means[k], "*", ms=12, color=color, mec="k")
        ax.axvline(r["default"], color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_ylim(bottom, top)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.supxlabel("learning rate")
    fig.supylabel(metric_label)
    fig.suptitle("random-search trials (★ chosen, dashed: default rate, ✕ diverged)", fontsize=10)
    fig.tight_layout()
    return fig


def profile_figure(panels: Mapping[str, Mapping[str, np.ndarray]]) -> Figure:
    """Performance profiles, one panel per time unit: ρ_s(τ), the fraction of problems solver
    s solves within τ × the best time, as a step function of τ (log axis when the ratios
    exceed 4).

    ``panels[unit][solver]`` holds the solver's ratios r_{p,s} (``inf``: not reached).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.0), squeeze=False)
    for ax, (unit, ratios) in zip(axes[0], panels.items(), strict=True):
        if ratios:
            taus = profile_taus(ratios)
            for i, (name, r) in enumerate(ratios.items()):
                ls = "-" if i < 10 else "--"
                ax.step(taus, profile(r, taus), where="post", color=f"C{i % 10}", ls=ls, label=name)
            if taus[-1] > 4.0:  # ratios spanning orders of magnitude; else a plain axis reads
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("τ (time ÷ the fastest's)")
        ax.set_ylabel("fraction of targets within τ")
        ax.set_title(f"performance profile: {unit}")
        ax.grid(alpha=0.3, which="both")
    drawn = [ax for ax in axes[0] if ax.get_lines()]
    if drawn:
        drawn[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _contours(ax, fn_grid: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Log-spaced contour lines of f − min f on the grid (the valleys need the low levels)."""
    xx, yy, zz = fn_grid
    shifted = zz - float(np.min(zz)) + 1e-3
    levels = np.geomspace(float(shifted.min()), float(shifted.max()), 25)
    ax.contour(xx, yy, shifted, levels=levels, cmap="Greys", linewidths=0.6)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())


def contour_figure(
    fn_grid: tuple[np.ndarray, np.ndarray, np.ndarray],
    trajectories: Mapping[str, np.ndarray],
    title: str,
    minimum: Sequence[float] | None = None,
) -> Figure:
    """All trajectories ``[steps, 2]`` on one set of contours (points outside the window are
    clipped by the axes, not dropped, so a path that leaves and comes back stays honest)."""
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    _contours(ax, fn_grid)
    for i, (name, path) in enumerate(trajectories.items()):
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], color=f"C{i % 10}", lw=1.2, label=name)
        ax.plot(path[0, 0], path[0, 1], "o", color="k", ms=4)
    if minimum is not None:
        ax.plot(minimum[0], minimum[1], "*", color="gold", mec="k", ms=14)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def trajectory_panels(
    fn_grid: tuple[np.ndarray, np.ndarray, np.ndarray],
    trajectories: Mapping[str, np.ndarray],
    gaps: Mapping[str, np.ndarray],
    title: str,
    minimum: Sequence[float] | None = None,
) -> Figure:
    """One small contour panel per optimizer with its path, and a last panel of f − f* per step
    (log scale) for all of them."""
    n = len(trajectories) + 1
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.0 * rows), squeeze=False)
    flat = axes.ravel()
    for i, (name, path) in enumerate(trajectories.items()):
        ax = flat[i]
        _contours(ax, fn_grid)
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], color=f"C{i % 10}", lw=1.0)
        ax.plot(path[0, 0], path[0, 1], "o", color="k", ms=3)
        if minimum is not None:
            ax.plot(minimum[0], minimum[1], "*", color="gold", mec="k", ms=10)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    ax = flat[len(trajectories)]
    for i, (name, gap) in enumerate(gaps.items()):
        ax.plot(np.maximum(np.asarray(gap, float), 1e-12), color=f"C{i % 10}", lw=1.0, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step", fontsize=8)
    ax.set_title("f − f*", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=5, ncol=2)
    for ax in flat[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def lines_figure(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
    logy: bool = True,
) -> Figure:
    """Plain lines ``name -> (x, y)``: loss vs step or vs seconds, cost vs parameter count."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (name, (x, y)) in enumerate(series.items()):
        ax.plot(x, y, marker=".", ms=4, color=f"C{i % 10}", label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def trajectory_animation(
    fn_grid: tuple[np.ndarray, np.ndarray, np.ndarray],
    trajectories: Mapping[str, np.ndarray],
    title: str,
    frames: int = 60,
) -> animation.FuncAnimation:
    """The contour figure, its paths drawn step by step (``frames`` frames over the run)."""
    fig = contour_figure(fn_grid, {k: np.asarray(v)[:1] for k, v in trajectories.items()}, title)
    ax = fig.axes[0]
    lines = ax.get_lines()
    # contour_figure draws, per optimizer, the path then the start marker.
    paths = [np.asarray(p) for p in trajectories.values()]
    n_steps = max(p.shape[0] for p in paths)
    cuts = np.unique(np.geomspace(1, n_steps, frames).astype(int))

    def draw(k: int):
        for line, path in zip(lines[0::2], paths, strict=False):
            line.set_data(path[: cuts[k], 0], path[: cuts[k], 1])
        ax.set_title(f"{title} — step {cuts[k] - 1}")
        return lines

    return animation.FuncAnimation(fig, draw, frames=len(cuts), blit=False)

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

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from jaxopt_lab.studies.aggregate import ArmSummary, ranking
from jaxopt_lab.studies.runs import METRICS

DEFAULTS = {
    "grid": {"min": 1e-4, "max": 1.0, "num": 9},
    "sweep_seeds": [0, 1, 2],
    "final_seeds": [10, 11, 12, 13, 14],
    "metric": "final_val_accuracy",
}


def settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The study's ``tuning:`` section with defaults filled; ``ValueError`` on a bad metric."""
    cfg = {**DEFAULTS, **(spec.get("tuning") or {})}
    if cfg["metric"] not in METRICS:
        raise ValueError(f"tuning.metric {cfg['metric']!r} unknown; use one of {list(METRICS)}")
    return cfg


def grid(cfg: Mapping[str, Any]) -> list[float]:
    """The log grid ``geomspace(min, max, num)``, or an explicit list."""
    g = cfg["grid"]
    if isinstance(g, list):
        return [float(x) for x in g]
    return [float(x) for x in np.geomspace(float(g["min"]), float(g["max"]), int(g["num"]))]


def sweep_rows(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Phase-1 rows: each row with its (or the study's) grid as a learning-rate list."""
    cfg = settings(spec)
    rows = []
    for row in spec["rows"]:
        r = copy.deepcopy(dict(row))
        r["set"] = {
            **r.get("set", {}),
            "optimizer.learning_rate": grid({"grid": r.get("grid", cfg["grid"])}),
            "train.seeds": list(cfg["sweep_seeds"]),
        }
        rows.append(r)
    return rows


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


def final_rows(spec: Mapping[str, Any], best: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """Phase-2 rows: ``<row> default`` and ``<row> tuned`` on the final seeds. When tuning
    picks the default rate, only the default row is trained (the tuned one would repeat it run
    for run) and stands for both in the rankings.

    Raises ``ValueError`` when a row lacks ``default_learning_rate``.
    """
    cfg = settings(spec)
    rows = []
    for row in spec["rows"]:
        name = str(row["name"])
        if "default_learning_rate" not in row:
            raise ValueError(f"tuning row {name!r} needs `default_learning_rate` (its usual rate)")
        for tag, lr in (
            ("default", row["default_learning_rate"]),
            ("tuned", best.get(name, {}).get("learning_rate")),
        ):
            if lr is None:
                continue
            if tag == "tuned" and math.isclose(float(lr), float(row["default_learning_rate"])):
                continue
            rows.append(
                {
                    "name": f"{name} {tag}",
                    "group": name,
                    "variant": tag,
                    "set": {
                        **row.get("set", {}),
                        "optimizer.learning_rate": float(lr),
                        "train.seeds": list(cfg["final_seeds"]),
                    },
                }
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

"""From the engine's per-epoch records to per-run curves and per-run scalar metrics.

Pure functions over the dicts of ``metrics.jsonl`` (one per run per epoch, see the engine's
``outputs.py``); reading the files is :mod:`jaxopt_lab.studies.store`'s job.

A run that diverged keeps ``diverged=True`` and ``None`` metrics from its divergence epoch on.
It is never averaged: every scalar metric of a diverged run is ``None`` and the run is counted
apart, so a NaN cannot leak into a mean.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

CURVE_KEYS = ("train_loss", "val_loss", "val_accuracy")

# Scalar metrics of one run, in the order of the report's table; True means higher is better.
METRICS: dict[str, bool] = {
    "final_val_accuracy": True,
    "best_val_accuracy": True,
    "final_train_loss": False,
    "final_val_loss": False,
    "test_accuracy": True,
    "epochs_to_target": False,
}


@dataclasses.dataclass(frozen=True)
class RunCurve:
    """One run (one seed, one set of hyperparameters) of one study row.

    ``curves[key]`` is a float array over ``epochs`` with nan where the engine stored null
    (after divergence). ``arm`` identifies the hyperparameters without the seed.
    ``planned_epochs`` is ``train.epochs`` of its run set (None: not known); a run whose last
    epoch falls short of it was interrupted, and its "final" metrics are partial. ``seconds``
    are the wall seconds of each epoch of its run set (every run of the set shares them;
    compilation excluded), None when the records lack them.
    """

    row: str
    run: str
    optimizer: str
    seed: int
    hparams: dict[str, Any]
    epochs: np.ndarray
    curves: dict[str, np.ndarray]
    test_accuracy: float | None
    test_loss: float | None
    diverged_epoch: int | None
    planned_epochs: int | None = None
    seconds: np.ndarray | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

    @property
    def reached_epoch(self) -> int:
        """The last epoch recorded."""
        return int(self.epochs[-1]) if self.epochs.size else 0

    @property
    def complete(self) -> bool:
        """Whether the run reached its planned epochs (True when they are not known)."""
        return self.planned_epochs is None or self.reached_epoch >= self.planned_epochs

    @property
    def learning_rate(self) -> float | None:
        lr = self.hparams.get("learning_rate")
        return None if lr is None else float(lr)

    @property
    def arm(self) -> str:
        return hparams_key(self.hparams)


def hparams_key(hparams: Mapping[str, Any]) -> str:
    """A stable string for a hyperparameter dict (sorted keys), used to group seeds of an arm."""
    return json.dumps(dict(hparams), sort_keys=True, default=str)


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def curves_from_records(row: str, records: Iterable[Mapping[str, Any]]) -> list[RunCurve]:
    """Group one row's ``metrics.jsonl`` records by run id into :class:`RunCurve` objects.

    Raises ``ValueError`` when a record lacks a field of the engine's contract, naming it.
    """
    by_run: dict[str, list[Mapping[str, Any]]] = {}
    for rec in records:
        for key in ("run", "optimizer", "seed", "hparams", "epoch", "diverged", *CURVE_KEYS):
            if key not in rec:
                raise ValueError(
                    f"row {row!r}: a metrics record lacks {key!r} ({sorted(rec)}); was it "
                    "written by jaxopt_lab.engine.train?"
                )
        by_run.setdefault(str(rec["run"]), []).append(rec)
    out = []
    for run_id, recs in by_run.items():
        recs = sorted(recs, key=lambda r: int(r["epoch"]))
        first = recs[0]
        div = [int(r["epoch"]) for r in recs if r["diverged"]]
        tested = [r for r in recs if r.get("test_accuracy") is not None]
        out.append(
            RunCurve(
                row=row,
                run=run_id,
                optimizer=str(first["optimizer"]),
                seed=int(first["seed"]),
                hparams=dict(first["hparams"]),
                epochs=np.array([int(r["epoch"]) for r in recs]),
                curves={k: np.array([_num(r[k]) for r in recs]) for k in CURVE_KEYS},
                test_accuracy=None if not tested else float(tested[-1]["test_accuracy"]),
                test_loss=None if not tested else _opt_float(tested[-1].get("test_loss")),
                diverged_epoch=min(div) if div else None,
                seconds=(
                    np.array([_num(r["seconds"]) for r in recs])
                    if all("seconds" in r for r in recs)
                    else None
                ),
            )
        )
    return sorted(out, key=lambda r: (r.arm, r.seed))


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def epochs_to_target(val_accuracy: np.ndarray, epochs: np.ndarray, target: float) -> int | None:
    """First epoch whose validation accuracy is ≥ ``target``; ``None`` when never reached."""
    hit = np.flatnonzero(np.nan_to_num(val_accuracy, nan=-np.inf) >= target)
    return None if hit.size == 0 else int(epochs[hit[0]])


def run_metrics(run: RunCurve, target: float) -> dict[str, float | None]:
    """The table's scalar metrics of one run; all ``None`` for a diverged run.

    ``epochs_to_target`` is ``None`` for a healthy run that never reached ``target``; the table
    tells that apart ("not reached") from a diverged run.
    """
    if run.diverged:
        return dict.fromkeys(METRICS)
    acc = run.curves["val_accuracy"]
    return {
        "final_val_accuracy": float(acc[-1]),
        "best_val_accuracy": float(np.max(acc)),
        "final_train_loss": float(run.curves["train_loss"][-1]),
        "final_val_loss": float(run.curves["val_loss"][-1]),
        "test_accuracy": run.test_accuracy,
        "epochs_to_target": _opt_float(epochs_to_target(acc, run.epochs, target)),
    }


def curve_stack(runs: Sequence[RunCurve], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and a ``[n_healthy_runs, n_epochs]`` array of one curve, diverged runs left out."""
    healthy = [r for r in runs if not r.diverged]
    if not healthy:
        return runs[0].epochs, np.empty((0, runs[0].epochs.size))
    n = min(r.epochs.size for r in healthy)
    return healthy[0].epochs[:n], np.stack([r.curves[key][:n] for r in healthy])

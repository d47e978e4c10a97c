"""Synthetic run directories in the engine's output format, for report tests without training.

The files follow the contract of ``jaxopt_lab.engine`` (``config.yaml``, ``metrics.jsonl``,
``summary.json``): one record per run per epoch; a diverged run has ``diverged=True`` and null
metrics from its divergence epoch on. A run set interrupted after epoch ``reached`` of
``epochs`` has the records of those epochs and no ``summary.json``, as the engine leaves it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jaxopt_lab.engine import outputs
from jaxopt_lab.studies.load import spec_from_dict
from jaxopt_lab.studies.spec import StudySpec, slugify
from jaxopt_lab.studies.store import Store


def fake_row(
    row_dir: Path,
    label: str,
    optimizer: str,
    seeds: list[int],
    lrs: list[float],
    epochs: int,
    level: float,
    diverge: dict[tuple[float, int], int] | None = None,
    rng_seed: int = 0,
    reached: int | None = None,
) -> list[dict]:
    """Write ``config.yaml`` (``train.epochs``: ``epochs``), ``metrics.jsonl`` up to epoch
    ``reached`` (default ``epochs``) and, when the row finished, ``summary.json``; returns the
    records."""
    diverge = diverge or {}
    reached = epochs if reached is None else reached
    rng = np.random.default_rng(rng_seed)
    records, runs = [], []
    for lr in lrs:
        for seed in seeds:
            run = f"{label}/lr={lr:g}/seed={seed}"
            noise = rng.normal(0, 0.002)
            div_at = diverge.get((lr, seed))
            for ep in range(1, reached + 1):
                dead = div_at is not None and ep >= div_at
                acc = level - 0.05 / ep + noise
                rec = {
                    "run": run,
                    "optimizer": optimizer,
                    "seed": seed,
                    "hparams": {"learning_rate": lr},
                    "epoch": ep,
                    "train_loss": None if dead else 0.5 / ep + noise,
                    "val_loss": None if dead else 0.6 / ep + noise,
                    "val_accuracy": None if dead else acc,
                    "seconds": 0.5,
                    "diverged": dead,
                }
                if ep == epochs:
                    rec["test_loss"] = None if dead else 0.6 / ep
                    rec["test_accuracy"] = None if dead else acc - 0.001
                records.append(rec)
            runs.append(
                {
                    "run": run,
                    "test_loss": rec.get("test_loss"),
                    "test_accuracy": rec.get("test_accuracy"),
                    "diverged": div_at is not None,
                    "diverged_epoch": div_at,
                }
            )
    row_dir.mkdir(parents=True, exist_ok=True)
    outputs.write_config(row_dir, {"train": {"epochs": epochs}})
    with (row_dir / outputs.METRICS).open("w") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    if reached < epochs:
        return records
    (row_dir / outputs.SUMMARY).write_text(
        json.dumps(
            {
                "runs": runs,
                "wall_seconds": 1.5 * epochs,
                "compile_seconds": 0.5,
                "device": "cpu (fake)",
                "epochs_completed": epochs,
            }
        )
    )
    return records


def fake_study(run_dir: Path, rows: list[dict], kind: str = "compare", **extra) -> StudySpec:
    """Write ``study.yaml`` for ``rows`` (each: name, optimizer, level, optional lrs/diverge,
    and ``reached``: the last epoch of 3 written, for a row interrupted before the end)."""
    spec = spec_from_dict(
        {
            "study": "fake",
            "kind": kind,
            "question": "Which fake optimizer is best?",
            "base": {"train": {"epochs": 3, "seeds": [0, 1, 2]}},
            "rows": [
                {
                    "name": r["name"],
                    "set": {"optimizer.name": r["optimizer"]},
                    **({"notebook": r["notebook"]} if "notebook" in r else {}),
                    **({"group": r["group"]} if "group" in r else {}),
                }
                for r in rows
            ],
            **extra,
        }
    )
    Store(run_dir).write_spec(spec)
    for i, r in enumerate(rows):
        fake_row(
            run_dir / slugify(r["name"]),
            r["name"],
            r["optimizer"],
            r.get("seeds", [0, 1, 2]),
            r.get("lrs", [0.01]),
            r.get("epochs", 3),
            r["level"],
            r.get("diverge"),
            i,
            r.get("reached"),
        )
    return spec

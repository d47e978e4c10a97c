"""The tuning study: choice of the tuned rate, phase-2 rows, and a tiny end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxopt_lab.config import ConfigError
from jaxopt_lab.studies.aggregate import summarize_arms
from jaxopt_lab.studies.kinds import tuning
from jaxopt_lab.studies.load import spec_from_dict
from jaxopt_lab.studies.runner import run_study
from jaxopt_lab.studies.runs import RunCurve

SGD_ROW = {"name": "SGD", "set": {"optimizer.name": "sgd"}, "default_learning_rate": 0.01}


def _run(row, lr, seed, acc, diverged=False):
    curve = np.array([np.nan if diverged else acc])
    return RunCurve(
        row=row,
        run=f"{row}/lr={lr:g}/seed={seed}",
        optimizer="sgd",
        seed=seed,
        hparams={"learning_rate": lr},
        epochs=np.array([1]),
        curves={"train_loss": curve, "val_loss": curve, "val_accuracy": curve},
        test_accuracy=None,
        test_loss=None,
        diverged_epoch=1 if diverged else None,
    )


def test_best_rate_skips_diverging_rates_and_flags_the_grid_edge():
    runs = {
        "SGD": [
            _run("SGD", 0.01, 0, 0.90),
            _run("SGD", 0.01, 1, 0.91),
            _run("SGD", 0.1, 0, 0.95),
            _run("SGD", 0.1, 1, 0.96),
            # the best mean of the healthy seed, but one seed diverged: not eligible
            _run("SGD", 1.0, 0, 0.99),
            _run("SGD", 1.0, 1, 0.0, diverged=True),
        ]
    }
    best = tuning.best_learning_rates(summarize_arms(runs, 0.97), "final_val_accuracy")
    assert best["SGD"]["learning_rate"] == 0.1
    assert best["SGD"]["mean"] == pytest.approx(0.955)
    assert best["SGD"]["at_edge"] is False
    edge = {"SGD": runs["SGD"][:4]}
    best = tuning.best_learning_rates(summarize_arms(edge, 0.97), "final_val_accuracy")
    assert best["SGD"]["learning_rate"] == 0.1 and best["SGD"]["at_edge"] is True


def test_final_rows_pair_default_and_tuned_on_fresh_seeds():
    spec = spec_from_dict(
        {"study": "t", "kind": "tuning", "rows": [SGD_ROW], "tuning": {"final_seeds": [7, 8]}}
    )
    rows = tuning.final_rows(spec, {"SGD": {"learning_rate": 0.1}})
    assert [(r.name, r.set["optimizer.learning_rate"]) for r in rows] == [
        ("SGD default", 0.01),
        ("SGD tuned", 0.1),
    ]
    assert all(r.set["train.seeds"] == [7, 8] and r.group == "SGD" for r in rows)
    # tuning that lands on the default rate trains the default row only
    same = tuning.final_rows(spec, {"SGD": {"learning_rate": 0.01}})
    assert [r.name for r in same] == ["SGD default"]
    with pytest.raises(ConfigError, match=r"rows\[0\]\.default_learning_rate: missing"):
        spec_from_dict({"study": "t", "kind": "tuning", "rows": [{"name": "X", "set": {}}]})


def test_sweep_rows_use_the_row_grid_else_the_study_grid():
    spec = spec_from_dict(
        {
            "study": "t",
            "kind": "tuning",
            "tuning": {"grid": {"min": 1e-3, "max": 1e-1, "num": 3}, "sweep_seeds": [0]},
            "rows": [SGD_ROW, {**SGD_ROW, "name": "Other", "grid": [0.5, 5.0]}],
        }
    )
    sweep = tuning.sweep_rows(spec)
    assert sweep[0].set["optimizer.learning_rate"] == pytest.approx([1e-3, 1e-2, 1e-1])
    assert sweep[1].set == {
        "optimizer.name": "sgd",
        "optimizer.learning_rate": [0.5, 5.0],
        "train.seeds": [0],
    }


def test_the_tuning_metric_must_be_a_metric():
    with pytest.raises(ConfigError, match=r"tuning\.metric: 'speed' is not one of"):
        spec_from_dict({"study": "t", "kind": "tuning", "rows": [SGD_ROW]}, ["tuning.metric=speed"])


def test_tuning_study_end_to_end(tiny_mnist, tmp_path):
    spec = spec_from_dict(
        {
            "study": "tuning",
            "kind": "tuning",
            "base": {"model": {"hidden_sizes": [16]}, "train": {"epochs": 1}},
            "tuning": {
                "grid": {"min": 1e-3, "max": 1e-1, "num": 3},
                "sweep_seeds": [0, 1],
                "final_seeds": [5, 6],
            },
            "rows": [
                {"name": "SGD", "set": {"optimizer.name": "sgd"}, "default_learning_rate": 1e-4},
                {"name": "Adam", "set": {"optimizer.name": "adam"}, "default_learning_rate": 1e-3},
            ],
        }
    )
    report = run_study(spec, tmp_path, quiet=True, data=tiny_mnist)
    text = report.path.read_text()
    assert (tmp_path / "figures" / "tuning_curves.png").stat().st_size > 5_000
    assert "Does tuning change the ranking?" in text and "Kendall τ" in text
    sweep = json.loads((tmp_path / "sweep_table.json").read_text())
    sgd = [a for a in sweep["arms"] if a["row"] == "SGD"]
    assert len(sgd) == 3 and all(a["n_runs"] == 2 for a in sgd)
    healthy = [a for a in sgd if a["n_diverged"] == 0]
    top = max(healthy, key=lambda a: a["final_val_accuracy_mean"])
    assert sweep["best"]["SGD"]["learning_rate"] == pytest.approx(top["learning_rate"])
    final = {a["arm"]: a for a in json.loads((tmp_path / "final_table.json").read_text())["arms"]}
    adam_tuned = {"Adam tuned"} if sweep["best"]["Adam"]["learning_rate"] != 1e-3 else set()
    assert set(final) == {"SGD default", "SGD tuned", "Adam default"} | adam_tuned
    assert final["SGD tuned"]["learning_rate"] == pytest.approx(top["learning_rate"])

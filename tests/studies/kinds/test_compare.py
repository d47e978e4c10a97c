"""The comparison study's report, built from synthetic metrics files: files exist, numbers equal
the stored metrics, diverged runs show as diverged, figures are real PNGs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import stats as sps

from jaxopt_lab.engine import outputs
from jaxopt_lab.studies.report import build_report
from tests.studies.conftest import PNG_MAGIC
from tests.studies.fake_runs import fake_study

ROWS = [
    {
        "name": "SGD",
        "optimizer": "sgd",
        "level": 0.96,
        "notebook": {"val_accuracy": {1: 0.9104, 3: 0.9438}},
    },
    {"name": "Adam", "optimizer": "adam", "level": 0.99},
    {"name": "Hot", "optimizer": "momentum", "level": 0.97, "diverge": {(0.01, 1): 2}},
    {
        "name": "Dead",
        "optimizer": "momentum",
        "level": 0.97,
        "diverge": {(0.01, 0): 1, (0.01, 1): 1, (0.01, 2): 2},
    },
]


@pytest.fixture()
def study(tmp_path):
    fake_study(tmp_path, ROWS, expectation={"epoch": 3, "tolerance": 0.006})
    return tmp_path, build_report(tmp_path)


def _records(run_dir, row):
    lines = (run_dir / row / outputs.METRICS).read_text().splitlines()
    return [json.loads(x) for x in lines]


def test_report_files_exist_and_figures_are_png(study):
    run_dir, report = study
    assert report.path == run_dir / "report.md"
    for name in ("report.md", "table.csv", "table.json"):
        assert (run_dir / name).stat().st_size > 0
    png = run_dir / "figures" / "curves.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
    assert "figures/curves.png" in report.path.read_text()


def test_table_numbers_equal_the_stored_metrics(study):
    run_dir, _ = study
    table = {a["arm"]: a for a in json.loads((run_dir / "table.json").read_text())["arms"]}
    recs = _records(run_dir, "adam")
    final = [r["val_accuracy"] for r in recs if r["epoch"] == 3]
    losses = [r["train_loss"] for r in recs if r["epoch"] == 3]
    tests = [r["test_accuracy"] for r in recs if r["epoch"] == 3]
    assert table["Adam"]["final_val_accuracy_mean"] == pytest.approx(np.mean(final))
    half = sps.t.ppf(0.975, len(final) - 1) * sps.sem(final)
    assert table["Adam"]["final_val_accuracy_ci95"] == pytest.approx(half)
    assert table["Adam"]["final_train_loss_mean"] == pytest.approx(np.mean(losses))
    assert table["Adam"]["test_accuracy_mean"] == pytest.approx(np.mean(tests))
    assert table["Adam"]["n_runs"] == 3
    # the CSV holds the same numbers as the JSON
    with (run_dir / "table.csv").open() as f:
        rows = {r["arm"]: r for r in csv.DictReader(f)}
    assert float(rows["Adam"]["final_val_accuracy_mean"]) == pytest.approx(np.mean(final))
    # and the markdown shows them, rounded
    assert f"{np.mean(final):.4f} ± {half:.4f}" in (run_dir / "report.md").read_text()


def test_epochs_to_target_reported_and_not_reached(study):
    run_dir, _ = study
    table = {a["arm"]: a for a in json.loads((run_dir / "table.json").read_text())["arms"]}
    recs = _records(run_dir, "adam")
    first = []
    for seed in (0, 1, 2):
        accs = sorted((r["epoch"], r["val_accuracy"]) for r in recs if r["seed"] == seed)
        first.append(next(e for e, a in accs if a >= 0.97))
    assert table["Adam"]["epochs_to_target_mean"] == pytest.approx(np.mean(first))
    assert table["SGD"]["epochs_to_target_mean"] is None
    sgd_line = next(
        x for x in (run_dir / "report.md").read_text().splitlines() if x.startswith("| SGD |")
    )
    assert "not reached" in sgd_line


def test_diverged_runs_are_shown_as_diverged_never_as_nan(study):
    run_dir, report = study
    text = report.path.read_text()
    assert "nan" not in text.lower().replace("nanmean", "")
    dead = next(x for x in text.splitlines() if x.startswith("| Dead |"))
    assert dead.count("diverged") >= 6 and "3 (3 diverged)" in dead
    hot = next(x for x in text.splitlines() if x.startswith("| Hot |"))
    assert "3 (1 diverged)" in hot
    table = {a["arm"]: a for a in json.loads((run_dir / "table.json").read_text())["arms"]}
    assert table["Dead"]["final_val_accuracy_mean"] is None
    assert table["Dead"]["n_diverged"] == 3
    healthy = [
        r["val_accuracy"] for r in _records(run_dir, "hot") if r["epoch"] == 3 and not r["diverged"]
    ]
    assert len(healthy) == 2
    assert table["Hot"]["final_val_accuracy_mean"] == pytest.approx(np.mean(healthy))
    assert "Hot diverged in 1 of 3 seeds (epoch 2)" in text


def test_conclusions_and_expectation_are_generated(study):
    run_dir, report = study
    text = report.path.read_text()
    assert "Highest final validation accuracy: **Adam**" in text
    payload = json.loads((run_dir / "table.json").read_text())
    (sentence,) = payload["expectation"]
    sgd_ep3 = np.mean([r["val_accuracy"] for r in _records(run_dir, "sgd") if r["epoch"] == 3])
    assert f"{sgd_ep3:.4f} vs notebook 0.9438" in sentence
    verdict = "within" if abs(sgd_ep3 - 0.9438) <= 0.006 else "OUTSIDE"
    assert verdict in sentence
    # pairwise families leave out the arm with no finite value
    pairs = {(t["a"], t["b"]) for t in payload["tests"]["final_val_accuracy"]}
    assert ("Hot", "Dead") not in pairs and ("SGD", "Adam") in pairs


def test_rebuilding_gives_the_same_report(study):
    run_dir, report = study
    first = report.path.read_text()
    assert build_report(run_dir).path.read_text() == first


def test_group_variants_against_baseline(tmp_path):
    rows = [
        {
            "name": "M none",
            "optimizer": "momentum",
            "level": 0.97,
            "group": "M",
            "diverge": {(0.01, s): 1 for s in (0, 1, 2)},
        },
        {"name": "M clip", "optimizer": "momentum", "level": 0.97, "group": "M"},
        {"name": "A none", "optimizer": "adam", "level": 0.97, "group": "A"},
        {"name": "A cos", "optimizer": "adam", "level": 0.99, "group": "A"},
    ]
    fake_study(tmp_path, rows)
    text = build_report(tmp_path).path.read_text()
    assert "M: M none diverged in all 3 seeds while M clip trained" in text
    assert "A: A cos helps vs A none" in text


def test_ranking_tiers_are_measured_from_the_tier_head_and_lost_seeds_count(study):
    run_dir, _ = study
    payload = json.loads((run_dir / "table.json").read_text())
    # Adam leads and differs from Hot, which opens a tier; SGD does not differ from Hot (the
    # tier's head) although it differs from Adam: it joins Hot's tier
    tests = {frozenset((t["a"], t["b"])): t for t in payload["tests"]["final_val_accuracy"]}
    assert tests[frozenset(("Adam", "Hot"))]["t_p_holm"] < 0.05
    assert tests[frozenset(("Hot", "SGD"))]["t_p_holm"] >= 0.05
    assert tests[frozenset(("Adam", "SGD"))]["t_p_holm"] < 0.05
    # Hot lost a seed to divergence, which counts against it: it ranks after the complete arms
    # (its survivors' mean would have put it second, ahead of SGD)
    assert payload["rankings"]["final_val_accuracy"] == (
        "Adam > SGD; then, for seeds they lost: Hot (1 of 3 seeds diverged)"
    )

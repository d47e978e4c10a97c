"""The field study: search spaces checked against the optimizers, trials and re-runs, selection
on validation only, the computed verdict, field.yaml's rows, and a tiny end-to-end run."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from jaxopt_lab import findings
from jaxopt_lab._typed_yaml import read_mapping
from jaxopt_lab.config import ConfigError
from jaxopt_lab.studies import field_sections, plots
from jaxopt_lab.studies.aggregate import comparisons, summarize_arms
from jaxopt_lab.studies.kinds import field
from jaxopt_lab.studies.load import spec_from_dict, stored_spec
from jaxopt_lab.studies.runner import StudyMismatchError, run_study
from jaxopt_lab.studies.runs import RunCurve
from jaxopt_lab.studies.runsets import row_configs
from jaxopt_lab.studies.store import Store
from tests.studies.conftest import PNG_MAGIC

FIELD_YAML = "configs/studies/field.yaml"
ADAM = {
    "name": "Adam",
    "set": {"optimizer.name": "adam"},
    "default_learning_rate": 1e-3,
    "search": {
        "learning_rate": {"log_uniform": [1e-4, 1e-1]},
        "b1": {"one_minus_log_uniform": [0.8, 0.99]},
    },
}
SGD = {
    "name": "SGD",
    "set": {"optimizer.name": "sgd"},
    "default_learning_rate": 0.01,
    "search": {"learning_rate": {"log_uniform": [1e-3, 1.0]}},
}


def _spec(rows=(SGD, ADAM), **settings):
    return spec_from_dict(
        {"study": "f", "kind": "field", "rows": list(rows), "field": {"trials": 3, **settings}}
    )


def _run(row, seed, val, test, diverged=False, hparams=None):
    curve = np.array([np.nan if diverged else val])
    return RunCurve(
        row=row,
        run=f"{row}/lr=0.01/seed={seed}",
        optimizer="adam",
        seed=seed,
        hparams=hparams or {"learning_rate": 0.01},
        epochs=np.array([1]),
        curves={"train_loss": curve, "val_loss": curve, "val_accuracy": curve},
        test_accuracy=None if diverged else test,
        test_loss=None,
        diverged_epoch=1 if diverged else None,
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"rows": [{**SGD, "search": {**SGD["search"], "b1": {"uniform": [0.8, 0.9]}}}]},
            r"rows\[0\]\.search: \(SGD\) optimizer 'sgd' has no hyperparameter 'b1'",
        ),
        (
            {"rows": [{**SGD, "search": {"b1": {"uniform": [0.8, 0.9]}}}]},
            r"rows\[0\]\.search\.learning_rate: \(SGD\) missing",
        ),
        ({"field": {"final_seeds": [1, 2]}}, r"field\.final_seeds: seeds \[1\] are also trial"),
        ({"field": {"metric": "test_accuracy"}}, r"field\.metric: 'test_accuracy' is not one of"),
        ({"field": {"modern": ["Lion"]}}, r"field\.modern: \['Lion'\] are not rows"),
        (
            {"rows": [{k: v for k, v in SGD.items() if k != "default_learning_rate"}]},
            r"rows\[0\]\.default_learning_rate: missing",
        ),
    ],
)
def test_a_bad_field_study_names_the_key(change, match):
    raw = {"study": "f", "kind": "field", "rows": [SGD, ADAM], **change}
    with pytest.raises(ConfigError, match=match):
        spec_from_dict(raw)


def test_trials_are_reproducible_rows_of_their_optimizer_on_the_trial_seeds():
    spec = _spec(rows=[{**ADAM, "set": {**ADAM["set"], "optimizer.hparams": {"eps": 1e-6}}}])
    trials = field.trial_rows(spec)
    assert [r.name for r in trials] == ["Adam trial 01", "Adam trial 02", "Adam trial 03"]
    assert trials == field.trial_rows(spec)
    assert trials != field.trial_rows(
        dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, search_seed=1))
    )
    for r in trials:
        assert r.group == "Adam" and r.set["train.seeds"] == [0, 1]
        assert set(r.set["optimizer.hparams"]) == {"eps", "b1"}  # the row's own kept
        assert 1e-4 <= r.set["optimizer.learning_rate"] <= 1e-1
    # every trial is a valid run config, and every optimizer's trials one run set
    assert len(row_configs(spec, trials)) == 3


def test_selection_is_by_validation_accuracy_never_by_test_accuracy():
    spec = _spec(rows=[SGD])
    names = [r.name for r in field.trial_rows(spec)]
    runs = {
        # the best test accuracy, the worst validation accuracy
        names[0]: [_run(names[0], s, 0.90, 0.99) for s in (0, 1)],
        names[1]: [_run(names[1], s, 0.95, 0.50) for s in (0, 1)],
        # the best validation accuracy in one seed, but the other diverged: not eligible
        names[2]: [_run(names[2], 0, 0.99, 0.99), _run(names[2], 1, 0.0, 0.0, diverged=True)],
    }
    best = field.best_trials(spec, summarize_arms(runs, 0.97), "final_val_accuracy")
    assert best["SGD"]["trial"] == names[1]
    assert best["SGD"]["mean"] == pytest.approx(0.95)
    assert (
        best["SGD"]["point"]["learning_rate"]
        == field.trial_rows(spec)[1].set["optimizer.learning_rate"]
    )
    every = {n: [_run(n, 0, 0.0, 0.0, diverged=True)] for n in names}
    assert field.best_trials(spec, summarize_arms(every, 0.97), "final_val_accuracy")["SGD"] == {
        "trial": None,
        "point": None,
        "mean": None,
    }


def test_re_runs_pair_defaults_and_the_chosen_trial_on_fresh_seeds():
    spec = _spec(final_seeds=[7, 8])
    best = {"SGD": {"point": {"learning_rate": 0.2}}, "Adam": {"point": None}}
    rows = field.final_rows(spec, best)
    assert [(r.name, r.variant, r.group) for r in rows] == [
        ("SGD default", "default", "SGD"),
        ("SGD tuned", "tuned", "SGD"),
        ("Adam default", "default", "Adam"),  # every Adam trial diverged: no tuned arm
    ]
    assert rows[0].set["optimizer.learning_rate"] == 0.01
    assert rows[1].set["optimizer.learning_rate"] == 0.2
    assert all(r.set["train.seeds"] == [7, 8] for r in rows)


def test_the_top_tier_and_the_modern_verdict_are_computed_from_paired_tests():
    spec = _spec(rows=[SGD, ADAM, {**ADAM, "name": "Nadam"}], modern=["Nadam"], baselines=["Adam"])
    seeds = range(5)
    noise = [0.0, 0.001, -0.001, 0.002, -0.002]
    other = [0.001, -0.002, 0.0, 0.002, -0.001]  # Nadam's own noise: the pair ties
    runs = {
        "Adam tuned": [_run("Adam tuned", s, 0.9, 0.980 + noise[s]) for s in seeds],
        "Nadam tuned": [_run("Nadam tuned", s, 0.9, 0.9802 + other[s]) for s in seeds],
        "SGD tuned": [_run("SGD tuned", s, 0.9, 0.950 + noise[s]) for s in seeds],
    }
    arms = summarize_arms(runs, 0.97)
    tier = field_sections.top_tier(arms, comparisons(arms)["test_accuracy"], "test_accuracy", 0.05)
    assert tier == ["Nadam tuned", "Adam tuned"]
    modern = field_sections.modern_vs_baselines(spec, {a.label: a for a in arms}, "test_accuracy")
    assert [(m["modern"], m["baseline"], m["verdict"]) for m in modern] == [
        ("Nadam", "Adam", "ties")
    ]


def test_a_not_reached_time_reads_not_reached():
    assert field_sections.time_cell(math.inf, (10.0, math.inf), "{:,.0f}") == "not reached"
    assert field_sections.time_cell(20.0, (10.0, math.inf), "{:,.0f}") == "20 [10, not reached]"
    assert field_sections.time_cell(math.nan, (math.nan, math.nan), "{:.3g}") == "n/a"


FIELD_ROWS = read_mapping(FIELD_YAML)["rows"]


@pytest.mark.parametrize("row", FIELD_ROWS, ids=[r["name"] for r in FIELD_ROWS])
def test_every_row_of_field_yaml_searches_a_valid_space_of_its_optimizer(row):
    """Lion, Muon, the schedule-free pair and AdEMAMix resolve once their modules are merged."""
    raw = read_mapping(FIELD_YAML)
    raw["field"] = {**raw["field"], "modern": [], "baselines": []}
    spec = spec_from_dict({**raw, "rows": [row]}, source=FIELD_YAML)
    trials = field.trial_rows(spec)
    assert len(trials) == 16
    rows = [
        *trials,
        *field.final_rows(spec, {row["name"]: {"point": field.trial_points(spec)[trials[0].name]}}),
    ]
    configs = row_configs(spec, rows)
    assert configs[f"{row['name']} default"].optimizer.learning_rate == row["default_learning_rate"]
    low, high = row["search"]["learning_rate"]["log_uniform"]
    assert high / low == pytest.approx(1000.0)  # three decades
    assert low < row["default_learning_rate"] < high


def test_field_yaml_declares_the_issue_budget():
    raw = read_mapping(FIELD_YAML)
    assert len(raw["rows"]) == 20
    assert field.Settings(**raw["field"]).trials == 16
    assert (len(raw["field"]["trial_seeds"]), len(raw["field"]["final_seeds"])) == (2, 5)
    assert raw["base"]["train"] == {"epochs": 15, "batch_size": 32}


def test_field_study_end_to_end(tiny_mnist, tmp_path):
    spec = spec_from_dict(
        {
            "study": "field",
            "kind": "field",
            "question": "Which optimizer, at equal budget?",
            "base": {"model": {"hidden_sizes": [16]}, "train": {"epochs": 2}},
            "field": {
                "trials": 3,
                "trial_seeds": [0, 1],
                "final_seeds": [5, 6, 7],
                "targets": [0.5, 0.9, 0.99],
                "modern": ["Lion"],
                "baselines": ["Adam"],
                "bootstrap_resamples": 200,
            },
            "report": {"target_accuracy": 0.9},
            "rows": [
                ADAM,
                {
                    "name": "Lion",
                    "set": {"optimizer.name": "optax.lion"},
                    "default_learning_rate": 1e-4,
                    "search": {
                        "learning_rate": {"log_uniform": [1e-5, 1e-2]},
                        "weight_decay": {"log_uniform": [1e-3, 1.0]},
                    },
                },
            ],
        }
    )
    report = run_study(spec, tmp_path, quiet=True, data=tiny_mnist)
    text = report.path.read_text()
    for heading in (
        "## Budget",
        "## Phase 1: random search",
        "## Phase 2: defaults vs tuned",
        "## Time to 90.0% validation accuracy",
        "## Performance profile over targets",
        "## The tuned optimizers compared",
        "## Verdict at equal budget (computed)",
        "## Method",
    ):
        assert heading in text, heading
    assert "3 trials of random search (seed 0) × 2 seeds [0, 1] × 2 epochs (10 steps each)" in text
    assert "Do the modern optimizers beat tuned Adam on this workload?" in text
    for name in ("sensitivity.png", "profile.png", "final_curves.png"):
        assert (tmp_path / "figures" / name).read_bytes()[:8] == PNG_MAGIC
    # each optimizer's trials trained as one run set, each re-run arm alone
    assert sorted(p.name for p in (tmp_path / "trials").iterdir() if p.is_dir()) == [
        "adam",
        "lion",
    ]
    trials = json.loads((tmp_path / "trials_table.json").read_text())
    assert "test" not in json.dumps(trials["trials"])  # the trials' test numbers are dropped
    for row in ("Adam", "Lion"):
        mine = [t for t in trials["trials"] if t["row"] == row and t["n_diverged"] == 0]
        top = max(mine, key=lambda t: t["mean"])
        assert trials["best"][row]["trial"] == top["trial"]
        assert top["mean"] == pytest.approx(np.mean(list(top["per_seed"].values())))
    table = json.loads((tmp_path / "field_table.json").read_text())
    assert [a["arm"] for a in table["arms"]] == [
        "Adam default",
        "Adam tuned",
        "Lion default",
        "Lion tuned",
    ]
    assert all(a["n_runs"] == 3 for a in table["arms"])
    assert table["budget"]["steps_per_epoch"] == 10
    assert table["budget"]["runs"] == {"trials": 12, "final": 12}
    assert set(table["time_to_target"]) == {"0.5", "0.9", "0.99"}
    assert table["top_tier"] and table["verdict"]
    assert "Infinity" not in (tmp_path / "field_table.json").read_text()
    # the README's Findings bullet renders from these tables
    bullet = findings.field(findings.load(tmp_path.parent, tmp_path.name))
    assert (
        bullet.startswith("2 optimizers × 3 random-search trials × 2 seeds")
        and "Top tier" in bullet
    )


def test_the_figures_draw_diverged_trials_and_unreached_targets():
    rows = {
        "A": {
            "learning_rates": np.array([1e-3, 1e-2, 1e-1]),
            "means": np.array([0.9, 0.95, np.nan]),
            "diverged": np.array([False, False, True]),
            "chosen": 1,
            "default": 1e-2,
        },
        "B": {  # every trial diverged: no chosen trial
            "learning_rates": np.array([1.0, 10.0]),
            "means": np.array([np.nan, np.nan]),
            "diverged": np.array([True, True]),
            "chosen": None,
            "default": 1.0,
        },
    }
    fig = plots.sensitivity_figure(rows)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["A", "B"]
    never = {"A": np.array([math.inf, math.inf]), "B": np.array([1.0, math.inf])}
    fig = plots.profile_figure({"optimizer steps": never, "wall seconds": {}})
    assert len(fig.axes) == 2


def test_a_field_study_may_grow_by_rows_keeping_every_run_set_it_has(tiny_mnist, tmp_path):
    """Appending optimizers (and naming them in the verdict, rewording the question) trains only
    the new rows; changing or withdrawing a row that ran, or the budget, is still refused."""
    small = {
        "study": "field",
        "kind": "field",
        "question": "SGD alone?",
        "base": {"model": {"hidden_sizes": [8]}, "train": {"epochs": 1}},
        "field": {"trials": 2, "trial_seeds": [0], "final_seeds": [5], "bootstrap_resamples": 50},
        "rows": [SGD],
    }
    run_study(spec_from_dict(small), tmp_path, quiet=True, data=tiny_mnist)
    trained = {p: p.read_bytes() for p in sorted(tmp_path.rglob("metrics.jsonl"))}
    assert len(trained) == 3  # 2 trials, then SGD's default and tuned arms
    grown = {
        **small,
        "question": "SGD or Adam?",
        "field": {**small["field"], "modern": ["Adam"], "baselines": ["SGD"]},
        "rows": [SGD, ADAM],
    }
    run_study(spec_from_dict(grown), tmp_path, quiet=True, data=tiny_mnist)
    assert {p: p.read_bytes() for p in trained} == trained  # kept, not retrained
    assert (tmp_path / "trials" / "adam").is_dir()
    assert sorted(p.name for p in (tmp_path / "final").iterdir() if p.is_dir()) == [
        "adam_default",
        "adam_tuned",
        "sgd_default",
        "sgd_tuned",
    ]
    assert [r.name for r in stored_spec(Store(tmp_path)).rows] == ["SGD", "Adam"]
    for change, key in [
        ({"rows": [{**SGD, "default_learning_rate": 0.05}, ADAM]}, "rows"),
        ({"rows": [ADAM, SGD]}, "rows"),
        ({"rows": [SGD], "field": {**small["field"]}}, "rows"),  # Adam trained: it stays
        ({"field": {**grown["field"], "trials": 3}}, r"field\.trials"),
    ]:
        with pytest.raises(StudyMismatchError, match=key):
            run_study(spec_from_dict({**grown, **change}), tmp_path, quiet=True, data=tiny_mnist)
    # A row appended by a call stopped before it trained may be withdrawn.
    lion = {**SGD, "name": "Lion", "set": {"optimizer.name": "optax.lion"}}
    Store(tmp_path).write_spec(spec_from_dict({**grown, "rows": [SGD, ADAM, lion]}))
    run_study(spec_from_dict(grown), tmp_path, quiet=True, data=tiny_mnist)
    assert [r.name for r in stored_spec(Store(tmp_path)).rows] == ["SGD", "Adam"]
    assert {p: p.read_bytes() for p in trained} == trained

"""Rows → run configs → run sets: every shipped row is a valid config, run sets group equal
sections, errors name --set, and each run set gets the split its config asks for."""

from __future__ import annotations

import pytest

from jaxopt_lab import schedules
from jaxopt_lab.config import ConfigError
from jaxopt_lab.studies import runsets
from jaxopt_lab.studies.kinds import tuning
from jaxopt_lab.studies.load import load_spec, spec_from_dict
from jaxopt_lab.studies.runner import run_study
from jaxopt_lab.studies.runsets import row_configs, run_sets


@pytest.mark.parametrize(
    "study",
    ["seed_table", "extended", "schedules", "clipping", "tuning", "split_variability", "beyond"],
)
def test_every_row_of_every_study_config_is_a_valid_config(study):
    spec = load_spec(f"configs/studies/{study}.yaml")
    rows = tuning.sweep_rows(spec) if spec.kind == "tuning" else spec.rows
    cfgs = row_configs(spec, rows)
    assert list(cfgs) == [r.name for r in spec.rows]


def test_rows_with_different_train_sections_form_separate_run_sets():
    spec = spec_from_dict(
        {
            "study": "s",
            "kind": "compare",
            "base": {"train": {"epochs": 2}},
            "rows": [
                {"name": "A", "set": {"optimizer.name": "sgd", "optimizer.learning_rate": 0.1}},
                {"name": "B", "set": {"optimizer.name": "adam", "optimizer.learning_rate": 1e-3}},
                {
                    "name": "C",
                    "set": {
                        "optimizer.name": "adam",
                        "optimizer.learning_rate": 1e-3,
                        "train.batch_size": 64,
                    },
                },
            ],
        }
    )
    sets = run_sets(spec, row_configs(spec, spec.rows))
    assert [(d, list(m)) for d, m in sets] == [("set0", ["A", "B"]), ("set1", ["C"])]


def test_rows_kept_apart_by_a_key_train_in_sets_named_after_it():
    rows = [
        {"name": n, "set": {"optimizer.name": "adam", "optimizer.learning_rate": lr}}
        for n, lr in (("A1", 1e-3), ("A2", 1e-2), ("B1", 1e-3))
    ]
    rows.append({**rows[1], "name": "A3", "set": {**rows[1]["set"], "train.batch_size": 64}})
    spec = spec_from_dict({"study": "s", "kind": "compare", "rows": rows})
    apart = {"A1": "Adam one", "A2": "Adam one", "B1": "B", "A3": "Adam one"}
    sets = run_sets(spec, row_configs(spec, spec.rows), apart)
    assert [(d, list(m)) for d, m in sets] == [
        ("adam_one-0", ["A1", "A2"]),
        ("b", ["B1"]),
        ("adam_one-1", ["A3"]),
    ]


def test_schedule_rows_are_resolved_against_the_step_count():
    # The row's schedule is run-relative; the engine resolves it against the run's T steps.
    spec = load_spec("configs/studies/schedules.yaml", ["train.epochs=2"])
    cfgs = row_configs(spec, spec.rows)
    cosine = cfgs["Adam cosine"].optimizer.schedule
    assert (cosine.name, cosine.kwargs) == ("cosine", {})
    step = cfgs["Momentum step"].optimizer.schedule
    built = schedules.build(step.name, step.kwargs, total_steps=20)  # 10 steps per epoch
    assert [float(built(t)) for t in (9, 10, 15)] == pytest.approx([1.0, 0.1, 0.01])
    assert cfgs["Adam constant"].optimizer.schedule.name == "constant"


def test_a_bad_run_config_value_from_set_is_blamed_on_set():
    spec = load_spec("configs/studies/seed_table.yaml", ["train.epochs=many"])
    with pytest.raises(ConfigError, match=r"^--set train\.epochs \(config configs/studies/seed_"):
        row_configs(spec, spec.rows)


def test_each_run_set_gets_the_split_its_config_asks_for(tiny_mnist, tmp_path, monkeypatch):
    asked = []

    def fake_load(cfg):
        asked.append(cfg.data.split_seed)
        return tiny_mnist

    monkeypatch.setattr(runsets, "load_data", fake_load)
    spec = spec_from_dict(
        {
            "study": "splits",
            "kind": "compare",
            "base": {
                "model": {"hidden_sizes": [8]},
                "optimizer": {"name": "sgd", "learning_rate": 0.1},
                "train": {"epochs": 1, "seeds": [0]},
            },
            "rows": [
                {"name": "a", "set": {"data.split_seed": 3}},
                {"name": "b", "set": {"data.split_seed": 5}},
                {"name": "c", "set": {"data.split_seed": 3, "train.batch_size": 64}},
            ],
        }
    )
    run_study(spec, tmp_path, quiet=True)
    assert asked == [3, 5]  # three run sets, two distinct splits, each loaded once

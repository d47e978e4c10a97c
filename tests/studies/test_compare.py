"""The study runner end to end through the engine, on tiny synthetic data (seconds each)."""

from __future__ import annotations

import shutil

import pytest

from jaxopt_lab.studies import compare, tuning
from jaxopt_lab.studies.compare import row_configs, run_sets, run_study
from jaxopt_lab.studies.report import build_report
from jaxopt_lab.studies.spec import load_spec, validate_spec
from tests.studies.conftest import TINY


@pytest.fixture(scope="module")
def seed_table_run(tiny_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("seed_table")
    spec = load_spec("configs/studies/seed_table.yaml", TINY)
    return out, run_study(spec, out, quiet=True, data=tiny_mnist)


@pytest.mark.parametrize(
    "study", ["seed_table", "extended", "schedules", "clipping", "tuning", "split_variability"]
)
def test_every_row_of_every_study_config_is_a_valid_config(study):
    spec = load_spec(f"configs/studies/{study}.yaml")
    rows = tuning.sweep_rows(spec) if spec["kind"] == "tuning" else spec["rows"]
    cfgs = row_configs(spec, rows, None)
    assert list(cfgs) == [r["name"] for r in spec["rows"]]


def test_seed_table_states_the_expectation_it_cannot_check_in_two_epochs(seed_table_run):
    text = seed_table_run[1].path.read_text()
    assert "SGD: no healthy run reached epoch 15; cannot compare." in text
    assert "0.8914 / " in text  # the notebook's epoch-1 SGD figure beside ours


def test_a_diverging_row_is_reported_as_diverged(tiny_mnist, tmp_path):
    spec = validate_spec(
        {
            "study": "div",
            "kind": "compare",
            "base": {"model": {"hidden_sizes": [16]}, "train": {"epochs": 2, "seeds": [0, 1]}},
            "rows": [
                {
                    "name": "Adam",
                    "set": {"optimizer.name": "adam", "optimizer.learning_rate": 1e-3},
                },
                {"name": "Boom", "set": {"optimizer.name": "sgd", "optimizer.learning_rate": 1e30}},
            ],
        }
    )
    text = run_study(spec, tmp_path, quiet=True, data=tiny_mnist).path.read_text()
    boom = next(x for x in text.splitlines() if x.startswith("| Boom |"))
    assert "diverged" in boom and "2 (2 diverged)" in boom
    assert "Boom diverged in 2 of 2 seeds" in text


def test_finished_run_sets_are_kept_on_rerun(seed_table_run, tiny_mnist):
    out, _ = seed_table_run
    metrics = out / "runs" / "metrics.jsonl"
    before = metrics.stat().st_mtime_ns
    spec = load_spec("configs/studies/seed_table.yaml", TINY)
    run_study(spec, out, quiet=True, data=tiny_mnist)
    assert metrics.stat().st_mtime_ns == before


def test_rows_with_different_train_sections_form_separate_run_sets():
    spec = validate_spec(
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
    sets = run_sets(spec, row_configs(spec, spec["rows"], 320))
    assert [(d, list(m)) for d, m in sets] == [("set0", ["A", "B"]), ("set1", ["C"])]


def test_schedule_rows_are_resolved_against_the_step_count():
    spec = load_spec("configs/studies/schedules.yaml", ["train.epochs=2"])
    cfgs = row_configs(spec, spec["rows"], 320)  # 10 steps per epoch, 20 in all
    cosine = cfgs["Adam cosine"].optimizer.schedule
    assert cosine.name == "cosine_decay_schedule" and cosine.kwargs["decay_steps"] == 20
    step = cfgs["Momentum step"].optimizer.schedule
    assert step.kwargs["boundaries_and_scales"] == {10: 0.1, 15: 0.1}
    assert cfgs["Adam constant"].optimizer.schedule is None


def test_a_stale_run_set_directory_is_not_read(seed_table_run, tmp_path):
    out, report = seed_table_run
    stale = out / "set_from_an_older_layout"
    shutil.copytree(out / "runs", stale)
    try:
        assert build_report(out).path.read_text() == report.path.read_text()
    finally:
        shutil.rmtree(stale)


def test_each_run_set_gets_the_split_its_config_asks_for(tiny_mnist, tmp_path, monkeypatch):
    asked = []

    def fake_load(cfg):
        asked.append(cfg.data.split_seed)
        return tiny_mnist

    monkeypatch.setattr(compare, "_load_data", fake_load)
    spec = validate_spec(
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

"""The run directory: study.yaml round-trips (and old ones load), rows are read from the run
sets, missing or corrupt files are clear errors."""

from __future__ import annotations

import json

import pytest

from jaxopt_lab.engine import outputs
from jaxopt_lab.studies.load import spec_from_dict, stored_spec
from jaxopt_lab.studies.store import ReportError, Store
from tests.studies.fake_runs import fake_study

ROWS = [
    {"name": "SGD", "optimizer": "sgd", "level": 0.96},
    {"name": "Adam", "optimizer": "adam", "level": 0.99},
]

# A study.yaml as the runner wrote it before study specs were typed (keys kept as they were).
OLD_STUDY_YAML = """\
study: tuning
kind: tuning
question: 'How much does tuning help?

  '
base:
  train: {epochs: 15, batch_size: 32}
tuning:
  grid: {min: 0.001, max: 0.1, num: 3}
  sweep_seeds: [0, 1]
  final_seeds: [10, 11]
  metric: final_val_accuracy
rows:
- name: Adadelta
  set: {optimizer.name: adadelta}
  default_learning_rate: 1.0
  grid: {min: 0.01, max: 100.0, num: 9}
report: {target_accuracy: 0.97, alpha: 0.05, confidence: 0.95, primary_metric: final_val_accuracy}
overrides:
  train.epochs: 1
  model.hidden_sizes: [16]
cli_set:
- train.epochs=1
- model.hidden_sizes=[16]
- 'tuning.grid={min: 1.0e-3, max: 1.0e-1, num: 3}'
source: configs/studies/tuning.yaml
expectation: null
run_together: true
"""


def test_the_study_yaml_round_trips(tmp_path):
    spec = spec_from_dict(
        {
            "study": "s",
            "kind": "compare",
            "rows": [{"name": "A", "set": {"optimizer.learning_rate": 1e-3}, "schedule": "step"}],
            "expectation": {"epoch": 2, "tolerance": 0.01},
        },
        ["train.epochs=1", "report.alpha=1e-2"],
        source="configs/studies/s.yaml",
    )
    Store(tmp_path).write_spec(spec)
    assert stored_spec(Store(tmp_path)) == spec


def test_a_study_yaml_written_before_typed_specs_still_loads(tmp_path):
    (tmp_path / "study.yaml").write_text(OLD_STUDY_YAML)
    spec = stored_spec(Store(tmp_path))
    assert spec.settings.grid.points() == pytest.approx([1e-3, 1e-2, 1e-1])
    assert spec.rows[0].grid.num == 9 and spec.rows[0].default_learning_rate == 1.0
    assert spec.overrides == {"train.epochs": 1, "model.hidden_sizes": [16]}
    assert spec.cli_set[-1] == "tuning.grid={min: 1.0e-3, max: 1.0e-1, num: 3}"
    assert spec.source == "configs/studies/tuning.yaml"


def test_not_a_study_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="is not a study run directory"):
        stored_spec(Store(tmp_path))
    with pytest.raises(ReportError, match=r"results\.json not found"):
        Store(tmp_path).read_results()


def test_rows_are_read_by_run_id_prefix_with_the_final_test_evaluation(tmp_path):
    fake_study(tmp_path, ROWS)
    data = Store(tmp_path).read_rows(["Adam", "SGD"])
    assert [r.run for r in data.runs["Adam"]] == [f"Adam/lr=0.01/seed={s}" for s in (0, 1, 2)]
    summary = json.loads((tmp_path / "adam" / outputs.SUMMARY).read_text())
    assert data.runs["Adam"][0].test_accuracy == summary["runs"][0]["test_accuracy"]
    assert data.wall_seconds == {"Adam": 4.5, "SGD": 4.5}


def test_missing_row_is_a_clear_error(tmp_path):
    fake_study(tmp_path, ROWS[:2])
    for f in (tmp_path / "adam").iterdir():
        f.unlink()
    with pytest.raises(ReportError, match=r"no metrics for rows \['Adam'\]"):
        Store(tmp_path).read_rows(["SGD", "Adam"])


def test_a_truncated_last_line_and_a_corrupt_one_are_errors(tmp_path):
    path = tmp_path / outputs.METRICS
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert outputs.read_metrics(tmp_path) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    with pytest.raises(outputs.DamagedOutputError, match=r":3 is not JSON"):
        outputs.read_metrics(tmp_path)
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(outputs.DamagedOutputError, match=r":2 is not JSON"):
        outputs.read_metrics(tmp_path)

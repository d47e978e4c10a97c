"""The workloads study on the generated workloads (no download): each workload its own run set,
each row's figure computed from its records and set beside its reference, the convex optimum
stored sealed, and the verdict following the tolerance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxopt_lab.studies.kinds import workloads as kind
from jaxopt_lab.studies.load import load_spec, spec_from_dict
from jaxopt_lab.studies.runner import run_study
from jaxopt_lab.studies.spec import spec_to_dict
from jaxopt_lab.studies.store import Store
from jaxopt_lab.workloads.base import Reference

ROWS = ("MNIST-1D MLP Adam", "Quadratic SGD", "Quadratic Momentum")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    spec = load_spec("configs/studies/workloads.yaml", ["train.epochs=3", "train.seeds=[0,1]"])
    doc = spec_to_dict(spec)
    doc["rows"] = [r for r in doc["rows"] if r["name"] in ROWS]
    out = tmp_path_factory.mktemp("workloads")
    report = run_study(spec_from_dict(doc), out, quiet=True)
    return out, report


def test_each_workload_trains_in_its_own_run_set(study):
    out, _ = study
    assert json.loads((out / "runsets.json").read_text()) == {
        "mnist1d_mlp": ["MNIST-1D MLP Adam"],
        "noisy_quadratic": ["Quadratic SGD", "Quadratic Momentum"],
    }


def test_the_table_is_computed_from_the_records(study):
    out, report = study
    table = json.loads((out / "workload_table.json").read_text())
    rows = {r["row"]: r for r in table["rows"]}
    assert list(rows) == list(ROWS)
    summary = json.loads((out / "noisy_quadratic" / "summary.json").read_text())
    losses = [r["test_loss"] for r in summary["runs"] if r["run"].startswith("Quadratic SGD/")]
    assert rows["Quadratic SGD"]["values"] == losses
    assert rows["Quadratic SGD"]["mean"] == pytest.approx(np.mean(losses))
    assert rows["Quadratic SGD"]["metric"] == "test_loss"
    assert rows["Quadratic Momentum"]["reference"] == 87.0701  # the row's own reference
    assert rows["MNIST-1D MLP Adam"]["metric"] == "test_accuracy"
    # 3 epochs are far from 100: the quadratic is not reproduced, and the report says by how much
    assert rows["Quadratic SGD"]["reproduced"] is False
    assert rows["Quadratic SGD"]["verdict"].startswith("no (+")
    headline = "0 of 3 rows reproduce their published reference figure"
    assert table["headline"] == report.headline == headline
    text = (out / "report.md").read_text()
    assert "## Optima of the convex workloads" in text and "`noisy_quadratic`: train_loss" in text


def test_the_optimum_is_stored_sealed_and_used_for_the_gap(study):
    out, _ = study
    optima = Store(out).read_results()["optima"]
    assert set(optima) == {"noisy_quadratic"}
    assert 80 < optima["noisy_quadratic"]["train_loss"] < 89


@pytest.mark.parametrize(
    ("metric", "value", "tolerance", "mean", "expected"),
    [
        ("test_accuracy", 0.94, 0.03, 0.915, True),
        ("test_accuracy", 0.94, 0.03, 0.905, False),
        ("test_loss", 87.5, 0.01, 88.3, True),
        ("test_loss", 87.5, 0.01, 88.5, False),
        ("steps_to_target", 7813, 0, 7000, True),
        ("steps_to_target", 7813, 0, 8000, False),
    ],
)
def test_the_tolerance_of_each_kind_of_reference(metric, value, tolerance, mean, expected):
    reference = Reference(metric, value, "setting", "source", tolerance)
    assert kind._reproduced(reference, mean) is expected


def test_a_row_reference_must_name_a_known_metric():
    with pytest.raises(ValueError, match="metric 'top5' is not one of val_accuracy"):
        kind._reference({"metric": "top5", "value": 1, "setting": "s", "source": "x"})


@pytest.mark.parametrize("study", ["seed_table", "tuning", "field", "schedules"])
def test_the_engine_studies_train_another_workload_when_asked(study):
    from jaxopt_lab.studies.spec import row_config_dict

    spec = load_spec(f"configs/studies/{study}.yaml", ["workload.name=mnist1d_mlp"])
    # every run config the kind builds starts from a row's (its grid or trials add the rates)
    names = {row_config_dict(spec, row)["workload"]["name"] for row in spec.rows}
    assert names == {"mnist1d_mlp"}


@pytest.mark.parametrize("study", ["second_order", "landscapes"])
def test_studies_with_their_own_loop_refuse_a_workload_they_would_ignore(study):
    from jaxopt_lab.config import ConfigError

    with pytest.raises(ConfigError, match=f"the {study} study computes .* would be ignored"):
        load_spec(f"configs/studies/{study}.yaml", ["workload.name=mnist_cnn"])
    load_spec(f"configs/studies/{study}.yaml", ["workload.name=mnist_mlp"])  # the default: fine

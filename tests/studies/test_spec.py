"""The study config format: typed like run configs (YAML 1.2 numbers, errors naming the key and
the file or --set), overrides with a precedence, and a study.yaml that round-trips."""

from __future__ import annotations

import pytest

from jaxopt_lab.config import ConfigError
from jaxopt_lab.studies.load import load_spec, spec_from_dict
from jaxopt_lab.studies.spec import LogGrid, StudySpecError, row_config_dict, spec_to_dict

BASE = {
    "study": "s",
    "kind": "compare",
    "base": {"train": {"epochs": 15, "seeds": [0, 1]}},
    "rows": [{"name": "Adam", "set": {"optimizer.name": "adam", "train.epochs": 3}}],
}


def test_row_config_is_base_then_row_then_command_line():
    spec = spec_from_dict(BASE, ["train.epochs=2", "optimizer.learning_rate=0.01"])
    tree = row_config_dict(spec, spec.rows[0])
    assert tree["train"] == {"epochs": 2, "seeds": [0, 1]}
    assert tree["optimizer"] == {"name": "adam", "learning_rate": 0.01}
    assert spec_from_dict(BASE).rows[0].set["train.epochs"] == 3


def test_study_section_overrides_change_the_study():
    tuning = {**BASE, "kind": "tuning", "rows": [{**BASE["rows"][0], "default_learning_rate": 1}]}
    spec = spec_from_dict(tuning, ["tuning.sweep_seeds=[0]", "report.alpha=0.01"])
    assert spec.settings.sweep_seeds == [0]
    assert spec.report.alpha == 0.01 and spec.report.target_accuracy == 0.97
    assert spec.overrides == {}
    assert spec.cli_set == ["tuning.sweep_seeds=[0]", "report.alpha=0.01"]


def test_1e_3_is_a_number_in_a_study_file_and_in_set(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(
        "study: s\nkind: compare\nreport: {alpha: 1e-2}\n"
        "rows: [{name: Adam, set: {optimizer.name: adam, optimizer.learning_rate: 1e-3}}]\n"
    )
    spec = load_spec(path, ["optimizer.hparams={eps: 1e-8}", "report.target_accuracy=9.5e-1"])
    assert spec.rows[0].set["optimizer.learning_rate"] == 1e-3
    assert spec.report.alpha == 0.01 and spec.report.target_accuracy == 0.95
    assert spec.overrides == {"optimizer.hparams": {"eps": 1e-8}}
    assert spec.source == str(path)


def test_a_bad_set_value_is_blamed_on_set():
    with pytest.raises(ConfigError, match=r"^--set report\.alpha \(config <dict>\): report\.alpha"):
        spec_from_dict(BASE, ["report.alpha=often"])
    # the file's own value is blamed on the file
    with pytest.raises(ConfigError, match=r"^study\.yaml: report\.alpha: expected a number"):
        spec_from_dict({**BASE, "report": {"alpha": "often"}}, source="study.yaml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "race"}, r"kind: 'race' is not one of compare, tuning, landscapes"),
        ({"rows": []}, "needs a non-empty list `rows`"),
        ({"rows": [{"set": {}}]}, r"rows\[0\]\.name: missing"),
        (
            {"rows": [{"name": "A", "sett": {}}]},
            r"rows\[0\]\.sett: unknown key; rows\[0\] accepts name, set, notebook, group",
        ),
        ({"rows": [{"name": "A", "set": {"lr": 1}}]}, "sets 'lr'; keys start with one of"),
        ({"rows": [{"name": "A b"}, {"name": "a_b"}]}, "share directory 'a_b'"),
        ({"rows": [{"name": "A/b"}]}, "may not contain '/'"),
        ({"rows": [{"name": "A", "schedule": {"at": [0.5]}}]}, r"schedule\.kind: missing"),
        ({"report": {"primary_metric": "speed"}}, "'speed' is not one of final_val_accuracy"),
        ({"questions": "?"}, "questions: unknown key; a compare study accepts study, kind"),
        ({"tuning": {}}, "tuning: unknown key"),  # compare has no section of its own
    ],
)
def test_malformed_studies_raise_naming_the_problem(change, message):
    with pytest.raises(StudySpecError, match=message):
        spec_from_dict({**BASE, **change})


def test_an_unknown_key_of_a_kind_section_names_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"landscapes\.step: unknown key; landscapes accepts"):
        spec_from_dict({"study": "l", "kind": "landscapes", "landscapes": {"step": 3}})
    with pytest.raises(ConfigError, match=r"landscapes\.functions\[0\]: 'himmelblau' is not one"):
        spec_from_dict({"study": "l", "kind": "landscapes"}, ["landscapes.functions=[himmelblau]"])


def test_bad_overrides_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(StudySpecError, match=r"expected key\.sub=value"):
        spec_from_dict(BASE, ["train.epochs"])
    with pytest.raises(StudySpecError, match="neither a run config section") as error:
        spec_from_dict(BASE, ["trian.epochs=2"])
    assert "model, optimizer, train, data" in str(error.value)
    assert "report, expectation, run_together" in str(error.value)
    with pytest.raises(StudySpecError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")


def test_a_row_schedule_becomes_the_run_relative_optimizer_schedule():
    rows = [
        {"name": "c", "schedule": "cosine"},
        {"name": "s", "schedule": {"kind": "step", "at": [0.5, 0.75], "factor": 0.1}},
    ]
    spec = spec_from_dict({**BASE, "rows": rows})
    trees = [row_config_dict(spec, row)["optimizer"]["schedule"] for row in spec.rows]
    assert trees == [
        {"name": "cosine", "kwargs": {}},
        {"name": "step", "kwargs": {"at": [0.5, 0.75], "factor": 0.1}},
    ]


def test_to_dict_round_trips_every_kind():
    specs = [
        spec_from_dict(
            {**BASE, "expectation": {"epoch": 3, "tolerance": 0.01}, "source": "x.yaml"},
            ["train.epochs=1", "report.alpha=0.1"],
        ),
        spec_from_dict(
            {
                **BASE,
                "kind": "tuning",
                "tuning": {"grid": [1e-3, 1e-2]},
                "rows": [
                    {
                        "name": "A",
                        "default_learning_rate": 1e-3,
                        "grid": {"min": 1e-2, "max": 1, "num": 3},
                    }
                ],
            }
        ),
        spec_from_dict({"study": "l", "kind": "landscapes", "landscapes": {"steps": 5}}),
    ]
    for spec in specs:
        assert spec_from_dict(spec_to_dict(spec)) == spec
    assert specs[1].rows[0].grid == LogGrid(1e-2, 1.0, 3)
    landscapes = spec_to_dict(specs[2])
    assert landscapes["landscapes"]["steps"] == 5 and "settings" not in landscapes

"""The study config format: validation errors name the problem; overrides have a precedence."""

from __future__ import annotations

import pytest

from jaxopt_lab.studies.spec import StudySpecError, load_spec, row_config_dict, validate_spec

BASE = {
    "study": "s",
    "kind": "compare",
    "base": {"train": {"epochs": 15, "seeds": [0, 1]}},
    "rows": [{"name": "Adam", "set": {"optimizer.name": "adam", "train.epochs": 3}}],
}


def test_row_config_is_base_then_row_then_command_line():
    spec = validate_spec(BASE, ["train.epochs=2", "optimizer.learning_rate=0.01"])
    tree = row_config_dict(spec, spec["rows"][0])
    assert tree["train"] == {"epochs": 2, "seeds": [0, 1]}
    assert tree["optimizer"] == {"name": "adam", "learning_rate": 0.01}
    assert validate_spec(BASE)["rows"][0]["set"]["train.epochs"] == 3


def test_study_section_overrides_change_the_study():
    spec = validate_spec(
        {**BASE, "kind": "tuning"}, ["tuning.sweep_seeds=[0]", "report.alpha=0.01"]
    )
    assert spec["tuning"]["sweep_seeds"] == [0]
    assert spec["report"]["alpha"] == 0.01 and spec["report"]["target_accuracy"] == 0.97
    assert spec["overrides"] == {}
    assert spec["cli_set"] == ["tuning.sweep_seeds=[0]", "report.alpha=0.01"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "race"}, "kind 'race' unknown"),
        ({"rows": []}, "needs a non-empty list `rows`"),
        ({"rows": [{"set": {}}]}, r"rows\[0\] needs a `name`"),
        ({"rows": [{"name": "A", "sett": {}}]}, r"unknown keys \['sett'\]"),
        ({"rows": [{"name": "A", "set": {"lr": 1}}]}, "sets 'lr'; keys start with one of"),
        ({"rows": [{"name": "A b"}, {"name": "a_b"}]}, "share directory 'a_b'"),
    ],
)
def test_malformed_studies_raise_naming_the_problem(change, message):
    with pytest.raises(StudySpecError, match=message):
        validate_spec({**BASE, **change})


def test_bad_overrides_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(StudySpecError, match=r"expected key\.sub=value"):
        validate_spec(BASE, ["train.epochs"])
    with pytest.raises(StudySpecError, match="neither a run config section"):
        validate_spec(BASE, ["trian.epochs=2"])
    with pytest.raises(StudySpecError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")

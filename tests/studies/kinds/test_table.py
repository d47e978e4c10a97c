"""KINDS is the one place that lists study kinds; every shipped study names one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from jaxopt_lab._typed_yaml import read_mapping
from jaxopt_lab.engine import outputs
from jaxopt_lab.studies import kinds
from jaxopt_lab.studies.kinds import KINDS
from jaxopt_lab.studies.load import load_spec

STUDIES = Path(kinds.__file__).parent.parent
CONFIGS = sorted(Path("configs/studies").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_study_config_names_a_kind_of_the_table(path):
    assert read_mapping(path)["kind"] in KINDS
    assert load_spec(path).kind in KINDS


def test_every_kind_has_its_module_and_section():
    for name, kind in KINDS.items():
        module = (STUDIES / "kinds" / f"{name}.py").read_text()
        assert kind.settings is None or f"The ``{name}:`` section" in (kind.settings.__doc__ or "")
        assert "def report(" in module and "def run(" in module and "def check(" in module


def test_no_other_studies_module_lists_or_dispatches_on_kinds():
    table = STUDIES / "kinds" / "__init__.py"
    for path in STUDIES.rglob("*.py"):
        if path == table:
            continue
        text = path.read_text()
        assert "KINDS =" not in text and "KINDS: " not in text, path
        for name in KINDS:
            assert f'"{name}"' not in text and f"'{name}'" not in text, (path, name)


def test_the_engine_file_names_come_from_engine_outputs():
    for path in STUDIES.rglob("*.py"):
        text = path.read_text()
        for name in (outputs.CONFIG, outputs.METRICS, outputs.SUMMARY):
            assert f'"{name}"' not in text and f"'{name}'" not in text, (path, name)

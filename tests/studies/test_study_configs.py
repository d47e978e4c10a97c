"""Every engine study config runs end to end on tiny data and its table matches summary.json."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import optax
import pytest

from jaxopt_lab.optimizers import registry
from jaxopt_lab.studies.load import load_spec, spec_from_dict
from jaxopt_lab.studies.runner import run_study
from tests.studies.conftest import PNG_MAGIC, TINY, summary_runs

# Studies with many rows are cut to their first rows here (compile time grows with the number
# of optimizer groups in the program); every row's config is still built and validated by
# test_runsets.test_every_row_of_every_study_config_is_a_valid_config.
ROWS_KEPT = {"seed_table": 5, "extended": 9, "schedules": 8, "clipping": 10, "beyond": 5}


@pytest.mark.parametrize("study", list(ROWS_KEPT))
def test_study_configs_run_and_report(study, tiny_mnist, tmp_path):
    spec = load_spec(f"configs/studies/{study}.yaml", TINY)
    spec = dataclasses.replace(spec, rows=spec.rows[: ROWS_KEPT[study]])
    report = run_study(spec, tmp_path, quiet=True, data=tiny_mnist)
    for name in ("report.md", "table.csv", "table.json", "study.yaml"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "figures" / "curves.png").read_bytes()[:8] == PNG_MAGIC
    # every row trained together, two seeds each, and the table agrees with summary.json
    table = {a["arm"]: a for a in json.loads((tmp_path / "table.json").read_text())["arms"]}
    assert list(table) == [r.name for r in spec.rows]
    runs = summary_runs(tmp_path)
    for name, arm in table.items():
        mine = [r for r in runs if r["run"].startswith(name + "/") and not r["diverged"]]
        assert arm["n_runs"] == 2
        if mine:
            final = np.mean([r["final"]["val_accuracy"] for r in mine])
            test = np.mean([r["test_accuracy"] for r in mine])
            assert arm["final_val_accuracy_mean"] == pytest.approx(final)
            assert arm["test_accuracy_mean"] == pytest.approx(test)
    assert report.headline.splitlines()[0].startswith("| arm |")


def test_the_beyond_study_says_what_each_reference_resolved_to(tiny_mnist, tmp_path):
    """optax's version for optax.lion, the file and its sha256 for the study's own module."""
    spec = load_spec("configs/studies/beyond.yaml", TINY)
    spec = dataclasses.replace(spec, rows=[r for r in spec.rows if r.name != "Muon (optax)"])
    run_study(spec, tmp_path, quiet=True, data=tiny_mnist)
    report = (tmp_path / "report.md").read_text()
    module = Path("configs/studies/my_optimizers.py")
    digest = hashlib.sha256(module.read_bytes()).hexdigest()
    assert f"`optax.lion = optax._src.alias.lion (optax {optax.__version__})`" in report
    assert f"{module.resolve()}, sha256 {digest})`" in report
    assert "- **AdaBelief (my_optimizers.py)**: `" in report


def test_a_factory_object_in_a_row_is_stored_by_reference(tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})

    def halved_adam(learning_rate):
        return optax.adam(learning_rate / 2)

    spec = spec_from_dict(
        {
            "study": "mine",
            "kind": "compare",
            "base": {"model": {"hidden_sizes": [16]}, "train": {"epochs": 1, "seeds": [0]}},
            "rows": [
                {
                    "name": "Adam",
                    "set": {"optimizer.name": "adam", "optimizer.learning_rate": 0.01},
                },
                {
                    "name": "Half",
                    "set": {"optimizer.name": halved_adam, "optimizer.learning_rate": 0.02},
                },
            ],
        }
    )
    assert spec.rows[1].set["optimizer.name"] == "halved_adam"
    run_study(spec, tmp_path, quiet=True, data=tiny_mnist)
    table = {a["arm"]: a for a in json.loads((tmp_path / "table.json").read_text())["arms"]}
    # adam(0.02 / 2) is adam(0.01): the two rows train the same runs
    assert table["Half"]["final_val_accuracy_mean"] == table["Adam"]["final_val_accuracy_mean"]
    assert "halved_adam" in (tmp_path / "study.yaml").read_text()

"""Every engine study config runs end to end on tiny data and its table matches summary.json."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from jaxopt_lab.studies.runner import run_study
from jaxopt_lab.studies.spec import load_spec
from tests.studies.conftest import PNG_MAGIC, TINY, summary_runs

# Studies with many rows are cut to their first rows here (compile time grows with the number
# of optimizer groups in the program); every row's config is still built and validated by
# test_runsets.test_every_row_of_every_study_config_is_a_valid_config.
ROWS_KEPT = {"seed_table": 5, "extended": 9, "schedules": 8, "clipping": 10}


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

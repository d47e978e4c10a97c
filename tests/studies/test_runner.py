"""The study runner end to end through the engine, on tiny synthetic data (seconds each)."""

from __future__ import annotations

import json
import shutil

import pytest

from jaxopt_lab import provenance
from jaxopt_lab.engine import outputs
from jaxopt_lab.engine.lock import OutputLock, OutputLockedError
from jaxopt_lab.studies.load import load_spec, spec_from_dict, stored_spec
from jaxopt_lab.studies.report import build_report
from jaxopt_lab.studies.runner import StudyMismatchError, run_study
from jaxopt_lab.studies.spec import spec_to_dict
from jaxopt_lab.studies.store import Store
from tests.studies.conftest import TINY


@pytest.fixture(scope="module")
def seed_table_run(tiny_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("seed_table")
    spec = load_spec("configs/studies/seed_table.yaml", TINY)
    return out, run_study(spec, out, quiet=True, data=tiny_mnist)


def test_seed_table_states_the_expectation_it_cannot_check_in_two_epochs(seed_table_run):
    text = seed_table_run[1].path.read_text()
    assert "SGD: no healthy run reached epoch 15; cannot compare." in text
    assert "0.8914 / " in text  # the notebook's epoch-1 SGD figure beside ours


def test_the_study_yaml_is_the_spec_that_ran(seed_table_run):
    out, _ = seed_table_run
    assert stored_spec(Store(out)) == load_spec("configs/studies/seed_table.yaml", TINY)


def test_a_diverging_row_is_reported_as_diverged(tiny_mnist, tmp_path):
    spec = spec_from_dict(
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
    metrics = out / "runs" / outputs.METRICS
    before = metrics.stat().st_mtime_ns
    spec = load_spec("configs/studies/seed_table.yaml", TINY)
    run_study(spec, out, quiet=True, data=tiny_mnist)
    assert metrics.stat().st_mtime_ns == before


def test_a_stale_run_set_directory_is_not_read(seed_table_run, tmp_path):
    out, report = seed_table_run
    stale = out / "set_from_an_older_layout"
    shutil.copytree(out / "runs", stale)
    try:
        assert build_report(out).path.read_text() == report.path.read_text()
    finally:
        shutil.rmtree(stale)


def test_a_refused_rerun_leaves_the_study_and_its_provenance_as_they_were(
    seed_table_run, tiny_mnist
):
    out, _ = seed_table_run
    before = {name: (out / name).read_bytes() for name in ("study.yaml", "provenance.json")}
    changed = load_spec("configs/studies/seed_table.yaml", [*TINY, "optimizer.learning_rate=0.05"])
    with pytest.raises(
        StudyMismatchError,
        match=r"overrides\.optimizer\.learning_rate: was absent, now 0\.05.*--overwrite",
    ):
        run_study(changed, out, quiet=True, data=tiny_mnist)
    assert {name: (out / name).read_bytes() for name in before} == before


def test_a_compare_study_does_not_grow_by_rows(seed_table_run, tiny_mnist):
    """Its rows are groups of one program, so an appended row would change the run set that
    ran: refused (the field study, whose rows train alone, may grow: test_field.py)."""
    out, _ = seed_table_run
    doc = spec_to_dict(load_spec("configs/studies/seed_table.yaml", TINY))
    doc["rows"] = [*doc["rows"], {**doc["rows"][-1], "name": "Adam again"}]
    with pytest.raises(StudyMismatchError, match=r"rows: was"):
        run_study(spec_from_dict(doc), out, quiet=True, data=tiny_mnist)


def test_a_rerun_may_change_the_report_section_only(seed_table_run, tiny_mnist):
    out, _ = seed_table_run
    spec = load_spec("configs/studies/seed_table.yaml", [*TINY, "report.alpha=0.01"])
    run_study(spec, out, quiet=True, data=tiny_mnist)
    assert stored_spec(Store(out)).report.alpha == 0.01
    calls = Store(out).read_provenance()
    assert len(calls) >= 2 and calls[-1]["code_sha256"] == provenance.record()["code_sha256"]
    assert "optimizers/adam.py" in calls[-1]["files"]


def test_a_second_study_on_one_directory_is_refused(tmp_path, tiny_mnist):
    spec = load_spec("configs/studies/seed_table.yaml", TINY)
    with OutputLock(tmp_path), pytest.raises(OutputLockedError, match="another --out"):
        run_study(spec, tmp_path, quiet=True, data=tiny_mnist)
    assert not (tmp_path / "study.yaml").exists()


def _sealed_study(tiny_mnist, out):
    spec = load_spec("configs/studies/seed_table.yaml", TINY)
    run_study(spec, out, quiet=True, data=tiny_mnist)
    return spec, out / "runs" / outputs.METRICS


def test_an_edited_record_is_never_reported_and_the_fix_works(tiny_mnist, tmp_path):
    """A val_accuracy edited in metrics.jsonl (0.7164 → 0.9964) was reported as trained."""
    spec, metrics = _sealed_study(tiny_mnist, tmp_path)
    lines = metrics.read_text().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["val_accuracy"] = 0.9964
    lines[2] = json.dumps(record) + "\n"
    metrics.write_text("".join(lines))
    with pytest.raises(outputs.EditedOutputError, match=rf"{metrics}:3 \(run .*\) differs"):
        build_report(tmp_path)
    summary = tmp_path / "runs" / outputs.SUMMARY
    data = json.loads(summary.read_text())
    metrics.write_text("".join(lines[:2] + lines[3:]))  # the edit undone by deleting the line
    with pytest.raises(outputs.EditedOutputError, match=r"lacks the record of run") as error:
        build_report(tmp_path)
    assert f"delete {metrics.parent} and rerun the study's jaxopt-lab compare" in str(error.value)
    shutil.rmtree(metrics.parent)  # what the error says to do
    run_study(spec, tmp_path, quiet=True, data=tiny_mnist)
    assert build_report(tmp_path).path.is_file()
    assert json.loads(summary.read_text())["runs"] == data["runs"]  # retrained bitwise


def test_an_edited_test_accuracy_in_summary_json_is_named_by_its_line(tiny_mnist, tmp_path):
    _sealed_study(tiny_mnist, tmp_path)
    summary = tmp_path / "runs" / outputs.SUMMARY
    summary.write_text(
        summary.read_text().replace('"test_accuracy": 0.', '"test_accuracy": 0.9', 1)
    )
    with pytest.raises(outputs.EditedOutputError, match=r"summary\.json:\d+ the entry of run"):
        build_report(tmp_path)

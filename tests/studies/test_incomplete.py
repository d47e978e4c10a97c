"""An interrupted or damaged study is never reported as final: a run set short of its planned
epochs is refused (or reported as partial when asked), a damaged metrics line is an error naming
the file and the line, and a complete study reports as it always did."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from jaxopt_lab.engine import outputs
from jaxopt_lab.engine.outputs import DamagedOutputError
from jaxopt_lab.studies.report import IncompleteStudyError, build_report
from jaxopt_lab.studies.store import Store
from tests.studies.fake_runs import fake_row, fake_study

report_main = runpy.run_path(str(Path(__file__).parents[2] / "scripts" / "report.py"))["main"]

COMPLETE = [
    {"name": "SGD", "optimizer": "sgd", "level": 0.96},
    {"name": "Adam", "optimizer": "adam", "level": 0.99},
]
# Ctrl-C after epoch 1 of 3 of the SGD run set; Adam's had finished.
INTERRUPTED = [{**COMPLETE[0], "reached": 1}, COMPLETE[1]]
HEADER = (
    "| arm | final val acc | best val acc | final train loss | final val loss | test acc | "
    "epochs to 97% | wall s | runs |"
)


def _line(text, prefix):
    return next(x for x in text.splitlines() if x.startswith(prefix))


def test_an_interrupted_study_is_refused_naming_the_rows_the_epochs_and_the_fix(tmp_path):
    fake_study(tmp_path, INTERRUPTED)
    with pytest.raises(IncompleteStudyError) as caught:
        build_report(tmp_path)
    message = str(caught.value)
    assert "SGD (run set sgd/): 3 of 3 runs at epoch 1 of 3" in message
    assert "Adam" not in message
    assert f"jaxopt-lab compare --config configs/studies/fake.yaml --out {tmp_path}" in (message)
    assert "--allow-incomplete" in message
    assert not (tmp_path / "report.md").exists()


def test_a_partial_report_warns_at_the_top_and_marks_the_final_columns(tmp_path):
    fake_study(tmp_path, INTERRUPTED)
    report = build_report(tmp_path, allow_incomplete=True)
    text = report.path.read_text()
    assert text.startswith("> **⚠ Partial report: this study is incomplete.**")
    warning = text[: text.index("# Study: fake")]
    assert "> - SGD (run set sgd/): 3 of 3 runs at epoch 1 of 3" in warning
    assert f"`jaxopt-lab compare --config configs/studies/fake.yaml --out {tmp_path}`" in (warning)
    header = _line(text, "| arm |")
    assert "| final val acc (partial) |" in header and "| final val loss (partial) |" in header
    assert "| best val acc |" in header  # not a final column
    assert _line(text, "| SGD").startswith("| SGD (⚠ partial: epoch 1 of 3) |")
    assert _line(text, "| Adam").startswith("| Adam |")
    assert report.incomplete == ("SGD (run set sgd/): 3 of 3 runs at epoch 1 of 3",)
    # the partial numbers are the last epoch reached, and the JSON says how far each seed got
    table = json.loads((tmp_path / "table.json").read_text())
    assert table["partial"] == {"SGD": {s: [1, 3] for s in ("0", "1", "2")}}
    sgd = next(a for a in table["arms"] if a["arm"] == "SGD")
    assert sgd["test_accuracy_mean"] is None  # no final test evaluation ran


def test_a_run_set_that_never_started_is_named(tmp_path):
    fake_study(tmp_path, COMPLETE)
    Store(tmp_path).write_runsets({"sgd": ["SGD"], "adam": ["Adam"], "nag": ["NAG"]})
    with pytest.raises(IncompleteStudyError, match=r"NAG \(run set nag/\): not started"):
        build_report(tmp_path)


def test_a_finished_epoch_without_its_summary_is_incomplete(tmp_path):
    fake_study(tmp_path, COMPLETE)
    (tmp_path / "sgd" / outputs.SUMMARY).unlink()  # stopped before the final test evaluation
    with pytest.raises(IncompleteStudyError, match=r"epoch 3 of 3 reached, but no summary"):
        build_report(tmp_path)


def test_every_phase_of_a_study_is_checked(tmp_path):
    phase = Store(tmp_path).child("sweep")
    phase.write_runsets({"runs": ["SGD"]})
    fake_row(phase.run_set_dir("runs"), "SGD", "sgd", [0, 1], [0.1, 1.0], 4, 0.9, reached=2)
    [progress] = Store(tmp_path).progress()
    assert progress.where == "sweep/runs" and progress.planned == 4 and not progress.complete
    assert set(progress.reached.values()) == {2} and len(progress.reached) == 4


def test_a_truncated_last_line_is_damage_naming_the_file_and_the_line(tmp_path):
    fake_study(tmp_path, COMPLETE)
    metrics = tmp_path / "sgd" / outputs.METRICS
    lines = metrics.read_text().splitlines()
    # seed 2's epoch-3 record cut short: skipping it would average seed 2's epoch 2 as final
    metrics.write_text("\n".join([*lines[:-1], lines[-1][:40]]))
    with pytest.raises(DamagedOutputError) as caught:
        build_report(tmp_path)
    message = str(caught.value)
    assert f"{metrics}:{len(lines)} is not JSON" in message
    assert f"delete {metrics.parent} and rerun" in message and "--overwrite" in message


def test_malformed_json_in_the_middle_names_its_line(tmp_path):
    fake_study(tmp_path, COMPLETE)
    metrics = tmp_path / "adam" / outputs.METRICS
    lines = metrics.read_text().splitlines()
    lines[3] = lines[3].replace('"epoch":', '"epoch"')
    metrics.write_text("\n".join(lines) + "\n")
    with pytest.raises(DamagedOutputError, match=rf"{metrics}:4 is not JSON"):
        build_report(tmp_path)
    metrics.write_text("\n".join([*lines[:3], "[1, 2]", *lines[4:]]) + "\n")
    with pytest.raises(DamagedOutputError, match=rf"{metrics}:4 is not a JSON object"):
        build_report(tmp_path)


def test_a_complete_study_reports_as_before(tmp_path):
    fake_study(tmp_path, COMPLETE)
    report = build_report(tmp_path)
    text = report.path.read_text()
    assert text.startswith("# Study: fake\n") and "partial" not in text.lower()
    assert _line(text, "| arm |") == HEADER
    assert _line(text, "| SGD").startswith("| SGD | 0.9")
    assert report.incomplete == ()
    table = (tmp_path / "table.json").read_text()
    assert "partial" not in json.loads(table)
    # asking for a partial report changes nothing when there is nothing partial
    build_report(tmp_path, allow_incomplete=True)
    assert report.path.read_text() == text and (tmp_path / "table.json").read_text() == table


def test_the_script_refuses_an_incomplete_study_with_an_error_line(tmp_path, capsys):
    fake_study(tmp_path, INTERRUPTED)
    assert report_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path} is an incomplete study")
    assert "SGD (run set sgd/): 3 of 3 runs at epoch 1 of 3" in err
    assert "jaxopt-lab compare --config" in err and "--allow-incomplete" in err

    assert report_main([str(tmp_path), "--allow-incomplete"]) == 0
    captured = capsys.readouterr()
    assert "warning: incomplete: SGD (run set sgd/): 3 of 3 runs at epoch 1 of 3" in captured.err
    assert "final val acc (partial)" in captured.out


def test_the_script_reports_damage_and_a_complete_study(tmp_path, capsys):
    fake_study(tmp_path, COMPLETE)
    assert report_main([str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and HEADER in captured.out
    metrics = tmp_path / "adam" / outputs.METRICS
    metrics.write_text(metrics.read_text() + '{"run": "Adam/lr=0.01/se')
    assert report_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {metrics}:10 is not JSON")


def test_a_deleted_line_of_a_finished_run_set_asks_to_retrain_it_not_to_resume(tmp_path):
    """The report said "Finish it with compare.py", which kept the finished set and failed
    again with the same error; a summarized run set short of records must be retrained."""
    fake_study(tmp_path, COMPLETE)  # summaries written before seals existed: no digests
    metrics = tmp_path / "sgd" / outputs.METRICS
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[:-1]))
    with pytest.raises(IncompleteStudyError) as caught:
        build_report(tmp_path)
    message = str(caught.value)
    assert "SGD (run set sgd/): its summary.json says it finished 3 epochs, but its " in message
    assert "Delete the directories of the run sets that must be retrained, then finish" in message
    assert "Finish it with" not in message

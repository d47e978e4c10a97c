"""``scripts/check_optimizer.py``: the table on stdout, exit 1 on a failure, 2 on an error."""

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
main = runpy.run_path(str(ROOT / "scripts" / "check_optimizer.py"))["main"]


def _error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert err.count("\n") == 1, f"not one line: {err!r}"
    return err


def test_a_passing_check_prints_the_table_and_exits_0(capsys):
    argv = ["adam", "--reference", "tests.reference:reference_adam", "--set", "learning_rate=1e-2"]
    assert main([*argv, "b1=0.8", "--only", "jit", "reference"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("adam(learning_rate=0.01, b1=0.8) against tests.reference:")
    assert [line.split()[0] for line in out[1:]] == ["PASS", "PASS"]


def test_a_failed_property_exits_1(capsys):
    assert main(["adam", "--reference", "sgd", "--only", "reference"]) == 1
    assert "FAIL  reference" in capsys.readouterr().out


def test_skip_reports_the_property_as_skipped(capsys):
    assert main(["sgd", "--only", "rosenbrock", "--skip", "rosenbrock"]) == 0
    assert "SKIP  rosenbrock           skipped with --skip" in capsys.readouterr().out


def test_errors_are_one_line_and_exit_2(capsys):
    assert main(["adamm"]) == 2
    assert "unknown optimizer 'adamm'" in _error(capsys)
    assert main(["adam", "--set", "lr=0.1"]) == 2
    assert "has no hyperparameter 'lr'; it accepts learning_rate" in _error(capsys)
    assert main(["adam", "--set", "learning_rate"]) == 2
    assert "expected name=value" in _error(capsys)
    assert main(["adam", "--set", "learning_rate=[0.1"]) == 2
    assert "--set" in _error(capsys)


def test_the_whole_kit_fails_momentum_with_eta_outside_the_velocity(capsys):
    """All 14 properties: only the reference, run under a changing η, tells the rules apart."""
    argv = ["tests.testing.test_kit:momentum_eta_outside", "--reference", "momentum"]
    assert main([*argv, "--set", "learning_rate=0.01", "momentum=0.8"]) == 1
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.endswith("against momentum: 13 passed, 1 failed, 0 skipped")
    assert [line.split()[0] for line in lines] == ["PASS"] * 13 + ["FAIL"]
    assert lines[-1].startswith("FAIL  reference            follows momentum at a constant η")

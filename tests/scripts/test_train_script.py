"""``scripts/train.py`` ends every failure in one ``error:`` line and a non-zero status."""

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
main = runpy.run_path(str(ROOT / "scripts" / "train.py"))["main"]
ADAM = str(ROOT / "configs" / "adam.yaml")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "nope.yaml"], r"nope\.yaml does not exist \(looked for .*nope\.yaml\)"),
        (["--config", str(ROOT / "configs")], "is a directory, not a file"),
        (["--config", ADAM, "--set", "train.seeds=[-1]"], r"--set train\.seeds"),
    ],
)
def test_bad_input_is_one_error_line(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err


def test_an_out_blocked_by_a_file_is_named(tmp_path, capsys):
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    assert main(["--config", ADAM, "--out", str(blocked), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"error: {blocked}: exists and is not a directory; choose another --out" in err


def test_ctrl_c_prints_how_to_resume_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setitem(main.__globals__, "train", interrupted)
    out = str(tmp_path / "out")
    assert main(["--config", ADAM, "--out", out, "--quiet"]) == 130
    assert f"kept in {out}: continue with the same command and --resume" in capsys.readouterr().err
    with pytest.raises(KeyboardInterrupt):
        main(["--config", ADAM, "--out", out, "--quiet", "--debug"])


def test_an_unexpected_error_names_its_type_and_points_to_debug(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("boom")

    monkeypatch.setitem(main.__globals__, "train", broken)
    assert main(["--config", ADAM, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "error: TypeError: boom (unexpected; run again with --debug" in capsys.readouterr().err


def test_a_workload_trains_with_its_own_config_and_default_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--set", "workload.name=noisy_quadratic", "train.epochs=2", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sgd/lr=0.0158489/seed=0: train loss" in out and "test loss" in out
    assert "val acc" not in out  # the quadratic has no accuracy
    config = (tmp_path / "runs" / "noisy_quadratic" / "config.yaml").read_text()
    assert "name: noisy_quadratic" in config and "batch_size: 128" in config


def test_an_unknown_workload_without_a_config_names_the_known_ones(tmp_path, capsys):
    assert main(["--set", "workload.name=cifar10", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set: workload.name: unknown workload 'cifar10'; use one of")
    assert "mnist_cnn" in err and not (tmp_path / "o").exists()


def test_without_a_checkout_the_workload_config_comes_from_the_working_directory(
    tmp_path, capsys, monkeypatch
):
    # An installed package has no configs/ beside it: the working directory's is read, and
    # without one the error says where to run from.
    monkeypatch.setitem(main.__globals__, "CHECKOUT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    argv = ["--set", "workload.name=noisy_quadratic", "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: without --config, train reads configs/workloads/noisy_quadratic.yaml, but there "
        f"is no configs/workloads/ in {tmp_path} (nor beside the jaxopt_lab package): run from "
        "the repository root, or pass --config PATH\n"
    )
    (tmp_path / "configs" / "workloads").mkdir(parents=True)
    assert main(argv) == 2  # now read from here: the folder exists, the file does not
    err = capsys.readouterr().err
    assert f"{tmp_path}/configs/workloads/noisy_quadratic.yaml does not exist" in err, err

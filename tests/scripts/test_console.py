"""``jaxopt-lab COMMAND ...`` (and ``python -m jaxopt_lab``): every command listed with an
example, each command's own help, one ``error:`` line for a missing or unknown command, the
same behaviour as ``python scripts/X.py``, and no JAX import for ``--help``."""

import importlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from jaxopt_lab.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["train", "compare", "report", "publish", "findings", "check", "bench", "data"]
LEAVES = [*(n for n in NAMES if n != "bench"), "bench train", "bench step"]


def _run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _example(name: str) -> str:
    first, _, rest = name.partition(" ")
    return (COMMANDS[first][rest] if rest else COMMANDS[first]).example


def test_help_lists_every_command_with_an_example(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: jaxopt-lab ")
    lines = out.splitlines()
    for name in LEAVES:  # the name, its description, and under them an example
        i = next(i for i, line in enumerate(lines) if line.startswith(f"  {name}  "))
        assert lines[i][len(name) + 2 :].strip(), f"{name} has no description"
        assert lines[i + 1].strip() == _example(name)
        assert _example(name).startswith(f"jaxopt-lab {name} ")
    assert list(COMMANDS) == NAMES


@pytest.mark.parametrize("name", LEAVES)
def test_each_command_help_shows_its_usage_and_examples(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*name.split(), "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: jaxopt-lab {name} [-h]")
    examples = [line.strip() for line in out.split("\nexamples:\n")[1].splitlines()]
    assert any(line.startswith(f"jaxopt-lab {name} ") for line in examples), out
    assert _example(name) in out  # the dispatcher's example is one of the command's own


def test_bench_help_lists_its_two_benchmarks(capsys):
    assert main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: jaxopt-lab bench [-h] COMMAND")
    assert "  train  " in out and "  step  " in out and "jaxopt-lab bench step --" in out


@pytest.mark.parametrize(
    "argv, line",
    [
        ([], "error: jaxopt-lab needs a command: " + ", ".join(NAMES)),
        (["trian"], "error: unknown command 'trian'; use one of: " + ", ".join(NAMES)),
        (["--config", "x.yaml"], "error: unknown command '--config'; use one of: "),
        (["bench"], "error: jaxopt-lab bench needs a command: train, step"),
        (["bench", "data"], "error: unknown command 'data'; use one of: train, step"),
    ],
)
def test_a_missing_or_unknown_command_is_one_error_line(argv, line, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(line), captured.err


def test_version_is_the_package_version(capsys):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"jaxopt-lab {version}\n"


def test_the_declared_entry_point_is_the_dispatcher():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attribute = scripts["jaxopt-lab"].partition(":")
    assert getattr(importlib.import_module(module), attribute) is main


def test_a_command_gets_its_name_in_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "train", "--epochs", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "jaxopt-lab bench train: error: argument --epochs: expected a whole number ≥ 1, got '0'"
    )


def test_python_m_runs_the_dispatcher_and_help_does_not_import_jax():
    result = _run("-m", "jaxopt_lab", "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: jaxopt-lab "), result
    assert result.stderr == ""
    probe = (
        "import json, runpy, sys\n"
        "sys.argv = ['jaxopt-lab', '--help']\n"
        "try:\n"
        "    runpy.run_module('jaxopt_lab', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exit_:\n"
        "    status = exit_.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'optax', 'flax'))\n"
        "print(json.dumps({'status': status, 'heavy': heavy}), file=sys.stderr)\n"
    )
    result = _run("-c", probe)
    assert json.loads(result.stderr.splitlines()[-1]) == {"status": 0, "heavy": []}, result
    unknown = _run("-m", "jaxopt_lab", "nope")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.startswith("error: unknown command 'nope'")
    assert unknown.stderr.count("\n") == 1


def test_help_into_a_pipe_whose_reader_ended_stops_quietly():
    """`jaxopt-lab --help | head -3`: head may end before the help is written (always, when
    stdout is unbuffered). No traceback; the status a shell gives a command killed by SIGPIPE."""
    read, write = os.pipe()
    os.close(read)  # the reader has ended before anything is written
    try:
        result = subprocess.run(
            [sys.executable, "-m", "jaxopt_lab", "--help"],
            cwd=ROOT,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write)
    assert result.stderr == "" and result.returncode == 141


def test_the_same_bad_input_gives_the_same_error_through_jaxopt_lab_and_scripts(tmp_path):
    args = ["--config", "configs/studies/nope.yaml", "--out", str(tmp_path / "out")]
    dispatched = _run("-m", "jaxopt_lab", "compare", *args)
    script = _run("scripts/compare.py", *args)
    assert dispatched.returncode == script.returncode == 2
    assert dispatched.stderr == script.stderr
    assert dispatched.stderr.startswith("error: ") and "nope.yaml" in dispatched.stderr
    assert dispatched.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_the_installed_console_script_runs():
    console = Path(sys.executable).with_name("jaxopt-lab")
    if not console.exists():
        pytest.skip("the package is not installed with its console script (pip install -e .)")
    result = subprocess.run(
        [console, "report", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: jaxopt-lab report ")


def test_a_short_training_run_through_the_dispatcher(tmp_path, capsys):
    out = tmp_path / "quadratic"
    argv = ["train", "--set", "workload.name=noisy_quadratic", "train.epochs=1"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "train loss" in printed and "1 epochs in" in printed
    assert printed.rstrip().endswith(f"outputs in {out}")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_completed"] == 1

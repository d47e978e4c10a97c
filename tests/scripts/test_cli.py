"""The scripts share one ``--set`` convention: several values per flag, the flag repeatable;
and they refuse bad numbers with one ``error:`` line before doing any work."""

import argparse
import runpy
from pathlib import Path

import pytest

from jaxopt_lab import testing
from jaxopt_lab.cli.common import add_set_argument
from tests.bench.test_train_throughput import FIGURES

ROOT = Path(__file__).resolve().parents[2]


def test_set_takes_several_values_and_repeats():
    parser = argparse.ArgumentParser()
    add_set_argument(parser, "overrides")
    parser.add_argument("--out")
    args = parser.parse_args(
        ["--set", "train.epochs=2", "optimizer.learning_rate=1e-3", "--out", "x", "--set", "a=1"]
    )
    assert args.set == ["train.epochs=2", "optimizer.learning_rate=1e-3", "a=1"]
    assert args.out == "x"
    assert parser.parse_args([]).set == []


# The benchmark and conformance scripts refuse bad counts and tolerances before any work: the
# work functions are replaced by ones that fail the test if reached.

BENCH_TRAIN = runpy.run_path(str(ROOT / "scripts" / "bench_train.py"))["main"]
CHECK_OPTIMIZER = runpy.run_path(str(ROOT / "scripts" / "check_optimizer.py"))["main"]


def _never(*args, **kwargs):
    raise AssertionError("bad input reached the work")


def _usage_error(run, argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    return err.splitlines()[-1].partition(": ")[2]  # after the program's name


@pytest.mark.parametrize("option", ["--n-train", "--epochs"])
@pytest.mark.parametrize("value", ["0", "-3", "x"])
def test_bench_train_refuses_counts_below_one(option, value, capsys, monkeypatch):
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", _never)
    line = _usage_error(BENCH_TRAIN, [option, value], capsys)
    assert line == f"error: argument {option}: expected a whole number ≥ 1, got {value!r}"


def test_bench_train_names_an_unknown_optimizer_in_a_layout(capsys, monkeypatch):
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "compare_layouts", _never)
    assert BENCH_TRAIN(["--layouts", "adam:1:1", "nosuchopt:1:1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: layout 'nosuchopt:1:1': unknown optimizer 'nosuchopt'; give")
    assert "sgd, momentum" in err and "Traceback" not in err


def test_bench_train_says_no_torch_skipped_pytorch(capsys, monkeypatch):
    result = {
        **dict.fromkeys(FIGURES, 1.0),
        "workload": "mnist_mlp",
        "batch_size": 32,
        "matched_matmul_shape": [32, 784, 128],
        "matched_matmul_layer": "dense 1, 784 → 128",
        "device": "cpu",
        "load_average": [0.0, 0.0],
        "torch": None,
        "skipped": {},
    }

    def benchmark(*, n_train, epochs, with_torch, workload):
        assert not with_torch and workload == "mnist_mlp"
        return result

    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", benchmark)
    assert BENCH_TRAIN(["--no-torch"]) == 0
    out = capsys.readouterr().out
    assert "pytorch                     skipped (--no-torch)" in out
    assert "not installed" not in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "-5"], "argument --steps: expected a whole number of steps ≥ 1, got '-5'"),
        (["--steps", "0"], "argument --steps: expected a whole number of steps ≥ 1, got '0'"),
        (["--rtol", "-1"], "argument --rtol: expected a finite number ≥ 0"),
        (["--atol=-1e-3"], "argument --atol: expected a finite number ≥ 0"),
        (["--atol", "nan"], "argument --atol: expected a finite number ≥ 0"),
    ],
)
def test_check_optimizer_refuses_bad_steps_and_tolerances(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(testing, "check_optimizer", _never)
    line = _usage_error(CHECK_OPTIMIZER, ["adam", *argv], capsys)
    assert line.startswith(f"error: {message}")

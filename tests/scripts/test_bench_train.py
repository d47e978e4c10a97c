"""``bench_train.py --workload``: the figures of another workload, against its own FLOP count
and the roofline of its dominant matmul; unknown names and impossible sizes refused."""

import functools
import json
import runpy
from pathlib import Path

import pytest

from jaxopt_lab.bench.train_throughput import benchmark
from tests.bench.test_train_throughput import FIGURES

ROOT = Path(__file__).resolve().parents[2]
BENCH_TRAIN = runpy.run_path(str(ROOT / "scripts" / "bench_train.py"))["main"]

POSITIVE = [
    "one_run_samples_per_second",
    "five_runs_model_samples_per_second",
    "five_seeds_model_samples_per_second",
    "matmul_flops_per_second",
    "flops_per_sample",
    "one_run_flops_per_second",
    "matched_matmul_flops_per_second",
    "matched_roofline_samples_per_second",
    "one_run_matched_roofline_fraction",
    "five_runs_matched_roofline_fraction",
]


def _never(*args, **kwargs):
    raise AssertionError("bad input reached the work")


@pytest.mark.slow  # 20-30 s on the busy 2-core CPU: three CNN run sets to compile
def test_workload_mnist_cnn_reports_its_own_flops_and_matched_roofline(monkeypatch, capsys):
    # For real, with a small validation split and square matmul (the script has no flags).
    small = functools.partial(benchmark, n_val=16, matmul_size=64)
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", small)
    argv = ["--workload", "mnist_cnn", "--n-train", "128", "--epochs", "1", "--no-torch", "--json"]
    assert BENCH_TRAIN(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r) == FIGURES
    assert r["workload"] == "mnist_cnn" and r["batch_size"] == 128
    for key in POSITIVE:
        assert r[key] > 0, key
    # conv 2 as im2col at batch 128: [128·14·14, 3·3·32] @ [288, 64]
    assert r["matched_matmul_shape"] == [128 * 14 * 14, 288, 64]
    assert r["matched_matmul_layer"] == "conv 2 as im2col"
    assert r["flops_per_sample"] == 27_411_456  # 4·4,643,840 + 2·(4,643,840 − 225,792)
    assert r["one_run_flops_per_second"] == pytest.approx(
        r["one_run_samples_per_second"] * r["flops_per_sample"]
    )
    assert r["one_run_matched_roofline_fraction"] == pytest.approx(
        r["one_run_flops_per_second"] / r["matched_matmul_flops_per_second"]
    )
    # Only mnist_mlp has the seed table, the PyTorch loop and the mlp_matmul figures.
    assert r["seed_table_model_samples_per_second"] is None
    assert r["mlp_matmul_flops_per_second"] is None and r["torch"] is None
    assert set(r["skipped"]) == {"seed_table"}  # --no-torch: torch was not asked for


@pytest.mark.parametrize(
    "name, shape",
    [("mnist_logreg", [128, 784, 10]), ("noisy_quadratic", [128, 100, 100])],
)
def test_workload_json_for_real_at_tiny_size(name, shape, monkeypatch, capsys):
    # The same path as mnist_cnn's above, on workloads that compile in a few seconds.
    small = functools.partial(benchmark, n_val=16, matmul_size=64)
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", small)
    argv = ["--workload", name, "--n-train", "256", "--epochs", "1", "--json"]
    assert BENCH_TRAIN(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r) == FIGURES and r["workload"] == name
    for key in POSITIVE:
        assert r[key] > 0, key
    assert r["matched_matmul_shape"] == shape
    assert r["torch"] is None and set(r["skipped"]) == {"seed_table", "torch"}


def test_workload_output_names_the_shape_and_the_skipped_figures(capsys, monkeypatch):
    result = {
        **dict.fromkeys(FIGURES, 1.0),
        "workload": "mnist_cnn",
        "batch_size": 128,
        "seed_table_model_samples_per_second": None,
        "seed_table_compile_seconds": None,
        "mlp_matmul_flops_per_second": None,
        "mlp_matmul_roofline_samples_per_second": None,
        "flops_per_sample": 27_411_456,
        "matched_matmul_shape": [25088, 288, 64],
        "matched_matmul_layer": "conv 2 as im2col",
        "device": "cpu",
        "load_average": [0.0, 0.0],
        "torch": None,
        "skipped": {
            "seed_table": "the seed comparison's run set trains mnist_mlp only",
            "torch": "the PyTorch loop trains mnist_mlp's MLP only",
        },
    }
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return result

    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", fake)
    assert BENCH_TRAIN(["--workload", "mnist_cnn"]) == 0
    assert calls == [{"n_train": 50_000, "epochs": 2, "with_torch": True, "workload": "mnist_cnn"}]
    out = capsys.readouterr().out
    assert (
        "workload                    mnist_cnn: the CNN of Flax's MNIST example, batch 128\n" in out
    )
    assert "matched matmul              [25088, 288]×[288, 64]  (conv 2 as im2col)\n" in out
    assert "seed table                  skipped (the seed comparison's run set trains" in out
    assert "pytorch                     skipped (the PyTorch loop trains mnist_mlp's MLP" in out
    assert "FLOPs per sample            27,411,456" in out
    assert "achieved                           0.0 GFLOP/s (one run), 0.0 GFLOP/s (five" in out
    assert "fraction of that roofline         1.00 (one run), 1.00 (five runs)" in out


def test_n_train_defaults_to_the_workloads_training_split(monkeypatch):
    calls = []
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", lambda **kw: calls.append(kw) or 1)
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "_print", lambda *a, **kw: None)
    for name, size in [("mnist_mlp", 50_000), ("mnist1d_cnn", 3_500), ("noisy_quadratic", 1_000)]:
        assert BENCH_TRAIN(["--workload", name]) == 0
        assert calls.pop()["n_train"] == size


def _usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        BENCH_TRAIN(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    return err.splitlines()[-1].partition(": ")[2]  # after the program's name


def test_an_unknown_workload_is_refused_naming_the_known_ones(capsys, monkeypatch):
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", _never)
    line = _usage_error(["--workload", "resnet50"], capsys)
    assert line.startswith("error: argument --workload: invalid choice: 'resnet50' (choose from")
    assert "mnist_mlp" in line and "mnist_cnn" in line and "noisy_quadratic" in line


def test_n_train_below_the_workloads_batch_is_refused(capsys, monkeypatch):
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "benchmark", _never)
    line = _usage_error(["--workload", "mnist_cnn", "--n-train", "100"], capsys)
    assert line == "error: --n-train 100 is below mnist_cnn's batch size 128: give at least 128"


@pytest.mark.parametrize("mode", [["--profile"], ["--layouts", "adam:1:1"]])
def test_profile_and_layouts_refuse_another_workload(mode, capsys, monkeypatch):
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "profile_epoch", _never)
    monkeypatch.setitem(BENCH_TRAIN.__globals__, "compare_layouts", _never)
    line = _usage_error(["--workload", "mnist_cnn", *mode], capsys)
    assert line == (
        "error: --workload mnist_cnn: --profile and --layouts time mnist_mlp's run sets only"
    )

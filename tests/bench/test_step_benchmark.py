"""The whole benchmark (library, optax, torch, roofline) at a tiny size, as the script runs it."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from jaxopt_lab.bench import step_benchmark, step_time, torch_step

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = dict(repeats=2, warmup=1, bandwidth_elements=10_000)


@pytest.fixture(scope="module")
def benchmark():
    return step_benchmark.run_step_benchmark(["adam", "nadam"], ["2x100"], flat=True, **TINY)


def test_benchmark_has_machine_bandwidth_and_one_row_per_optimizer_and_size(benchmark):
    assert set(benchmark) == {"machine", "bandwidth", "results"}
    assert {"before", "after", "roofline_gbps"} <= set(benchmark["bandwidth"])
    assert [(r["optimizer"], r["shape"]) for r in benchmark["results"]] == [
        ("adam", "2x100"),
        ("nadam", "2x100"),
    ]


def test_each_row_compares_the_library_with_its_baselines(benchmark):
    adam = benchmark["results"][0]
    assert adam["n_params"] == 200
    for timing in (adam["jaxopt_lab"], adam["flat"], adam["optax"]):
        assert timing["median_ms"] > 0 and timing["bytes_per_param"] == pytest.approx(28, 0.01)
    assert adam["speedup"]["optax"] == pytest.approx(
        adam["optax"]["median_ms"] / adam["jaxopt_lab"]["median_ms"]
    )
    assert adam["triad"]["n_params"] == 200 and adam["triad"]["bytes_per_param"] == 12
    assert adam["roofline_fraction"] == pytest.approx(
        adam["jaxopt_lab"]["gbps"] / adam["triad"]["gbps"]
    )


def test_torch_variants_are_timed_where_torch_has_them(benchmark):
    adam, nadam = benchmark["results"]
    if not torch_step.torch_available():  # the optional extra: every torch figure is absent
        assert all(t is None for r in (adam, nadam) for t in r["torch"].values())
        return
    assert all(adam["torch"][v]["median_ms"] > 0 for v in torch_step.VARIANTS)
    assert nadam["torch"]["fused"] is None  # torch has no fused NAdam
    assert nadam["speedup"]["torch_fused"] is None
    assert nadam["speedup"]["torch_foreach"] > 0


def test_table_has_the_columns_and_a_line_per_row(benchmark):
    lines = step_benchmark.format_table(benchmark).splitlines()
    assert all(column in lines[0] for column in step_benchmark.TABLE_COLUMNS)
    assert len(lines) == 2 + len(benchmark["results"])
    assert lines[2].startswith("| adam | 2x100 |")


def test_unknown_size_fails_before_measuring():
    with pytest.raises(ValueError, match="unknown size"):
        step_benchmark.run_step_benchmark(["adam"], ["2x100", "huge"], **TINY)


def test_script_writes_json(tmp_path):
    out = tmp_path / "step.json"
    cmd = [sys.executable, "scripts/bench_step.py", "--optimizers", "sgd", "--sizes", "2x100",
           "--repeats", "1", "--no-torch", "--bandwidth-elements", "10000",
           "--json", str(out)]  # fmt: skip
    completed = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "| sgd | 2x100 |" in completed.stdout
    assert json.loads(out.read_text())["results"][0]["jaxopt_lab"]["bytes_per_param"] == 12


def test_steps_take_turns_in_blocks_each_after_an_untimed_step():
    calls = []

    def fake(name):
        def run():
            calls.append(name)
            return 1e-3 if name == "a" else 2e-3

        return step_time.PreparedStep(run, 0.0, 10, 1, 12.0)

    prepared = {k: fake(k) for k in "abc"}
    timings = step_benchmark._interleaved_timings(prepared, repeats=4, rounds=2)
    # Round 1: blocks of 1 untimed + 2 timed steps in order abc; round 2 rotated: bca.
    assert "".join(calls) == "aaabbbccc" + "bbbcccaaa"
    assert timings["a"]["median_ms"] == pytest.approx(1.0)
    assert timings["b"]["repeats"] == 4 and timings["b"]["median_ms"] == pytest.approx(2.0)


def test_set_hyperparameters_and_lanes_reach_the_library_step_and_leave_the_baselines_out():
    benchmark = step_benchmark.run_step_benchmark(
        ["adam"], ["2x100"], hyperparameters={"mu_dtype": "bfloat16"}, lanes=3, **TINY
    )
    (adam,) = benchmark["results"]
    assert (adam["hyperparameters"], adam["lanes"]) == ({"mu_dtype": "bfloat16"}, 3)
    ours = adam["jaxopt_lab"]
    assert ours["bytes_per_param"] == pytest.approx(24, 0.01)  # m in bfloat16: 28 - 2·2
    assert adam["n_params"] == adam["triad"]["n_params"] == 600  # three runs of 200
    assert ours["per_run_ms"] == pytest.approx(ours["median_ms"] / 3)
    assert adam["optax"] is None and all(t is None for t in adam["torch"].values())
    table = step_benchmark.format_table(benchmark).splitlines()[2]
    assert f"| {ours['median_ms']:.3g} | {ours['per_run_ms']:.3g} | 24 |" in table


def test_bad_set_or_lanes_is_an_error_line_before_measuring(capsys):
    from jaxopt_lab.cli.bench_step import main

    assert main(["--optimizers", "adam", "--sizes", "2x100", "--set", "bogus=1"]) == 2
    assert "error: optimizer 'adam' has no hyperparameter 'bogus'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="lanes=0"):
        step_benchmark.run_step_benchmark(["adam"], ["2x100"], lanes=0, **TINY)

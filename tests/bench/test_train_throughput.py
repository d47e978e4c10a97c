"""The throughput benchmark at a tiny size, so a renamed figure breaks here, not in the docs;
and its table of workload shapes (``BENCH_SHAPES``) against the workloads themselves."""

import math

import jax
import numpy as np
import pytest

from jaxopt_lab.bench import train_throughput
from jaxopt_lab.bench.train_throughput import (
    BENCH_SHAPES,
    bench_shape,
    benchmark,
    engine_throughput,
    matched_matmul,
    roofline,
    synthetic_data,
)
from jaxopt_lab.config import ModelConfig
from jaxopt_lab.data.splits import flatten
from jaxopt_lab.workloads import WORKLOADS

FIGURES = {
    "workload",
    "batch_size",
    "one_run_samples_per_second",
    "one_run_samples_per_cpu_second",
    "five_runs_model_samples_per_cpu_second",
    "five_runs_model_samples_per_second",
    "five_seeds_model_samples_per_second",
    "seed_table_model_samples_per_second",
    "seed_table_compile_seconds",
    "compile_seconds",
    "five_runs_compile_seconds",
    "matmul_flops_per_second",
    "mlp_matmul_flops_per_second",
    "mlp_matmul_roofline_samples_per_second",
    "flops_per_sample",
    "roofline_samples_per_second",
    "one_run_roofline_fraction",
    "five_runs_roofline_fraction",
    "one_run_flops_per_second",
    "five_runs_flops_per_second",
    "matched_matmul_shape",
    "matched_matmul_layer",
    "matched_matmul_flops_per_second",
    "matched_roofline_samples_per_second",
    "one_run_matched_roofline_fraction",
    "five_runs_matched_roofline_fraction",
    "device",
    "load_average",
    "torch",
    "skipped",
}


def test_benchmark_reports_every_figure_at_tiny_size():
    result = benchmark(n_train=200, n_val=50, epochs=1, matmul_size=64, with_torch=False)
    assert set(result) == FIGURES
    assert result["workload"] == "mnist_mlp" and result["batch_size"] == 32
    assert result["one_run_samples_per_second"] > 0
    assert result["five_runs_model_samples_per_second"] > 0
    assert result["seed_table_model_samples_per_second"] > 0
    assert result["flops_per_sample"] == 409_088
    assert result["one_run_roofline_fraction"] == (
        result["one_run_samples_per_second"] / result["roofline_samples_per_second"]
    )
    # mnist_mlp's matched matmul is the MLP's own, reported under its old names too.
    assert result["matched_matmul_shape"] == [32, 784, 128]
    assert result["mlp_matmul_flops_per_second"] == result["matched_matmul_flops_per_second"]
    assert (
        result["mlp_matmul_roofline_samples_per_second"]
        == (result["matched_roofline_samples_per_second"])
    )
    assert result["one_run_matched_roofline_fraction"] == pytest.approx(
        result["one_run_flops_per_second"] / result["matched_matmul_flops_per_second"]
    )
    assert result["torch"] is None and result["skipped"] == {}


def test_roofline_divides_flops_per_second_by_flops_per_sample():
    assert roofline(409_088e3)["roofline_samples_per_second"] == 1000
    cnn = WORKLOADS["mnist_cnn"].flops_per_sample(ModelConfig())
    assert roofline(cnn * 7.0, workload="mnist_cnn") == {
        "flops_per_sample": cnn,
        "roofline_samples_per_second": 7.0,
    }


def test_every_workload_has_a_bench_shape():
    missing = sorted(set(WORKLOADS) - set(BENCH_SHAPES))
    assert not missing, (
        f"workloads {missing} have no entry in BENCH_SHAPES (jaxopt_lab/bench/train_throughput.py):"
        " add each one's sample shape, validation size and dominant matmul there"
    )
    assert not set(BENCH_SHAPES) - set(WORKLOADS), "BENCH_SHAPES names a workload that is gone"


def test_a_workload_without_a_bench_shape_names_the_table(monkeypatch):
    monkeypatch.delitem(BENCH_SHAPES, "mnist_cnn")
    with pytest.raises(ValueError, match=r"BENCH_SHAPES \(jaxopt_lab/bench/train_throughput.py\)"):
        bench_shape("mnist_cnn")


def test_an_unknown_workload_is_refused_before_any_work(monkeypatch):
    def never(**kwargs):
        raise AssertionError("an unknown workload reached the work")

    monkeypatch.setattr(train_throughput, "engine_throughput", never)
    with pytest.raises(ValueError, match="unknown workload 'nope'; use one of mnist_mlp, "):
        benchmark(workload="nope", n_train=64, n_val=16, epochs=1, with_torch=False)


def _matmuls(jaxpr):
    """``(m, k, n)`` of every ``dot_general`` in ``jaxpr`` and the jaxprs inside it."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            lhs, rhs = (v.aval.shape for v in eqn.invars)
            (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = eqn.params["dimension_numbers"]
            k = math.prod(lhs[i] for i in lhs_contract)
            m = math.prod(d for i, d in enumerate(lhs) if i not in (*lhs_contract, *lhs_batch))
            n = math.prod(d for i, d in enumerate(rhs) if i not in (*rhs_contract, *rhs_batch))
            yield m, k, n
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _matmuls(inner)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_bench_shape_matches_the_workload(name):
    """The synthetic samples fit the workload's model, and the table's matmul is the largest
    product (most multiply-adds) of its traced model and loss, for a batch of 2."""
    workload, shape = WORKLOADS[name], BENCH_SHAPES[name]
    data = synthetic_data(name, n_train=2, n_val=1)
    rows = flatten(data.train.images)
    assert rows.dtype == shape.dtype and data.train.images.shape[1:] == shape.sample
    if not workload.has_accuracy:
        assert not data.train.labels.any()
    model = workload.model(ModelConfig())
    params = model.init(jax.random.key(0), workload.inputs(rows))

    def loss(params, rows, labels):
        return workload.loss(model.apply(params, workload.inputs(rows)), labels)

    jaxpr = jax.make_jaxpr(loss)(params, rows, data.train.labels).jaxpr
    m, k, n = max(_matmuls(jaxpr), key=math.prod)
    assert (m, k, n) == shape.matmul(2), f"{name}'s largest matmul is [{m}, {k}]×[{k}, {n}]"
    assert 4 * math.prod(shape.matmul(1)) <= workload.flops_per_sample(ModelConfig())


def test_matched_matmul_times_the_cnns_conv_2_as_im2col():
    result = matched_matmul("mnist_cnn", 8, repeats=1)
    assert result["shape"] == [8 * 14 * 14, 288, 64] and result["layer"] == "conv 2 as im2col"
    assert result["flops_per_second"] > 0


@pytest.mark.parametrize("name", [name for name in WORKLOADS if name != "mnist_mlp"])
def test_engine_trains_each_workload_on_its_synthetic_data(name):
    batch = WORKLOADS[name].batch_size
    result = engine_throughput(workload=name, n_train=batch, n_val=8, epochs=1)
    assert result["samples_per_second"] > 0 and result["epoch_seconds"] > 0
    assert np.isfinite(result["compile_seconds"])

"""The throughput benchmark at a tiny size, so a renamed figure breaks here, not in the docs."""

from jaxopt_lab.bench.train_throughput import benchmark, roofline

FIGURES = {
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
    "device",
    "load_average",
    "torch",
}


def test_benchmark_reports_every_figure_at_tiny_size():
    result = benchmark(n_train=200, n_val=50, epochs=1, matmul_size=64, with_torch=False)
    assert set(result) == FIGURES
    assert result["one_run_samples_per_second"] > 0
    assert result["five_runs_model_samples_per_second"] > 0
    assert result["seed_table_model_samples_per_second"] > 0
    assert result["flops_per_sample"] == 409_088
    assert result["one_run_roofline_fraction"] == (
        result["one_run_samples_per_second"] / result["roofline_samples_per_second"]
    )
    assert result["torch"] is None


def test_roofline_divides_flops_per_second_by_flops_per_sample():
    assert roofline(409_088e3)["roofline_samples_per_second"] == 1000

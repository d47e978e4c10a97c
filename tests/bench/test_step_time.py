"""The step-time benchmark at tiny sizes: its metrics exist, add up and fail loudly on bad input."""

from __future__ import annotations

import jax.numpy as jnp
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab.bench import step_time


def test_named_and_patterned_sizes_give_leaf_shapes():
    assert step_time.parse_shapes("mnist_mlp") == ((784, 128), (128,), (128, 10), (10,))
    assert step_time.parse_shapes("20x500k") == ((500_000,),) * 20
    assert step_time.parse_shapes("2x3M") == ((3_000_000,),) * 2
    assert step_time.parse_shapes("3x7") == ((7,),) * 3
    assert sum(s[0] for s in step_time.parse_shapes("1000x1000")) == 1_000_000


@pytest.mark.parametrize("bad", ["10M", "0x5", "3x", "3x5G", "adam"])
def test_unknown_size_is_a_value_error_naming_the_choices(bad):
    with pytest.raises(ValueError, match="mnist_mlp"):
        step_time.parse_shapes(bad)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("sgd", 12), ("momentum", 20), ("nesterov", 20), ("adagrad", 20), ("rmsprop", 20),
     ("adam", 28), ("adamw", 28), ("nadam", 28), ("adadelta", 28)],
)  # fmt: skip
def test_bytes_per_param_counts_reads_and_writes_of_params_grads_and_state(name, expected):
    params, _ = step_time.make_tree(((1000,), (10, 100)))
    per_param = step_time.bytes_per_param(step_time.jaxopt_lab_optimizer(name), params)
    # The scalar step counts add a few bytes over 2,000 parameters.
    assert per_param == pytest.approx(expected, abs=0.05)


def test_bytes_per_param_follows_the_dtype():
    params, _ = step_time.make_tree(((1000,),), dtype=jnp.bfloat16)
    assert step_time.bytes_per_param(optax.sgd(0.1), params) == 6


def test_time_step_reports_consistent_metrics():
    timing = step_time.time_step(jol.adam(1e-3), step_time.parse_shapes("3x100"), repeats=3)
    result = timing.to_dict()
    assert set(result) == {
        "median_ms", "min_ms", "compile_s", "n_params", "n_leaves", "bytes_per_param",
        "repeats", "gbps", "lanes", "per_run_ms",
    }  # fmt: skip
    assert (result["n_params"], result["n_leaves"], result["repeats"]) == (300, 3, 3)
    assert 0 < result["min_ms"] <= result["median_ms"]
    assert result["compile_s"] > 0
    assert result["gbps"] == pytest.approx(28.0 * 300 / (result["median_ms"] * 1e-3) / 1e9, 0.01)


def test_time_step_vmaps_the_step_over_lanes_and_counts_every_run():
    shapes = step_time.parse_shapes("3x100")
    timing = step_time.time_step(jol.adam(1e-3), shapes, repeats=2, lanes=4).to_dict()
    assert (timing["n_params"], timing["lanes"]) == (1200, 4)
    assert timing["per_run_ms"] == pytest.approx(timing["median_ms"] / 4)
    prepared = step_time.prepare_step(jol.sgd(0.1), shapes, warmup=0, lanes=2)
    assert (prepared.n_params, prepared.bytes_per_param) == (600, 12)  # per parameter, as one run
    with pytest.raises(ValueError, match="lanes=0"):
        step_time.prepare_step(jol.sgd(0.1), shapes, lanes=0)


def test_time_step_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats"):
        step_time.time_step(jol.sgd(0.1), ((10,),), repeats=0)


def test_every_optimizer_has_an_optax_equivalent_and_a_flat_path():
    without = {name for name in jol.OPTIMIZERS if step_time.optax_equivalent(name) is None}
    assert without == {"cautious_adamw", "cautious_lion", "mars", "kron", "soap"}  # not in optax
    for name in jol.OPTIMIZERS:
        if name not in without:
            assert isinstance(step_time.optax_equivalent(name), optax.GradientTransformation)
        assert isinstance(
            step_time.jaxopt_lab_optimizer(name, fast_path="flat"), optax.GradientTransformation
        )
    with pytest.raises(ValueError, match="fast_path"):
        step_time.jaxopt_lab_optimizer("adam", fast_path="fused")

"""The optimizer a config describes: learning-rate sweeps, schedules and clipping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.config import ClippingConfig, OptimizerConfig, ScheduleConfig
from jaxopt_lab.engine.transform import make_transform, resolved_hparams

STEPS = 100  # the run's optimizer steps, which only a schedule relative to the run reads
PARAMS = {"w": jnp.ones((3,)), "b": jnp.zeros((2,))}
GRADS = {"w": jnp.asarray([3.0, 0.0, 4.0]), "b": jnp.asarray([0.0, 0.0])}  # global norm 5


def _first_update(config, learning_rate):
    tx = make_transform(config, STEPS)(jnp.float32(learning_rate))
    updates, _ = tx.update(GRADS, tx.init(PARAMS), PARAMS)
    return updates


def test_the_learning_rate_is_an_argument_and_can_be_traced():
    config = OptimizerConfig("sgd", 0.1)
    build = make_transform(config, STEPS)
    rates = jnp.asarray([0.1, 0.2])
    updates = jax.vmap(lambda lr: build(lr).update(GRADS, build(lr).init(PARAMS), PARAMS)[0])(rates)
    np.testing.assert_allclose(updates["w"], [[-0.3, 0, -0.4], [-0.6, 0, -0.8]], rtol=1e-6)


def test_a_schedule_multiplies_the_learning_rate_step_by_step():
    schedule = ScheduleConfig(
        "piecewise_constant_schedule", {"init_value": 1.0, "boundaries_and_scales": {1: 0.5}}
    )
    tx = make_transform(OptimizerConfig("sgd", 0.1, schedule=schedule), STEPS)(jnp.float32(0.1))
    state = tx.init(PARAMS)
    first, state = tx.update(GRADS, state, PARAMS)
    second, _ = tx.update(GRADS, state, PARAMS)
    np.testing.assert_allclose(first["w"], [-0.3, 0, -0.4], rtol=1e-6)  # η = 0.1 · 1
    np.testing.assert_allclose(second["w"], [-0.15, 0, -0.2], rtol=1e-6)  # η = 0.1 · 0.5


def _rates(config, total_steps, steps):
    """The learning rate η_t of the first ``steps`` updates, read from unit gradients of SGD."""
    tx = make_transform(config, total_steps)(jnp.float32(1.0))
    params, grads = {"w": jnp.zeros(())}, {"w": jnp.ones(())}
    state, rates = tx.init(params), []
    for _ in range(steps):
        updates, state = tx.update(grads, state, params)
        rates.append(-float(updates["w"]))
    return rates


def test_a_relative_schedule_is_resolved_against_the_run_length():
    cosine = OptimizerConfig("sgd", 1.0, schedule=ScheduleConfig("cosine"))
    # s(t) = ½ (1 + cos(π t / T)): 1, ½, 0 at t = 0, T/2, T, whatever T is.
    for total in (4, 8):
        rates = _rates(cosine, total, total + 1)
        np.testing.assert_allclose(rates[:: total // 2], [1.0, 0.5, 0.0], atol=1e-6)
    step = OptimizerConfig("sgd", 1.0, schedule=ScheduleConfig("step", {"at": [0.5]}))
    np.testing.assert_allclose(_rates(step, 4, 4), [1.0, 1.0, 0.1, 0.1], rtol=1e-6)


def test_an_absolute_schedule_and_constant_ignore_the_run_length():
    schedule = ScheduleConfig(
        "linear_schedule", {"init_value": 1.0, "end_value": 0.0, "transition_steps": 4}
    )
    absolute = OptimizerConfig("sgd", 1.0, schedule=schedule)
    assert _rates(absolute, 4, 3) == _rates(absolute, 1000, 3) == [1.0, 0.75, 0.5]
    constant = OptimizerConfig("sgd", 1.0, schedule=ScheduleConfig("constant"))
    assert _rates(constant, 4, 3) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "method, expected", [("global_norm", [-0.6, 0, -0.8]), ("value", [-1.0, 0, -1.0])]
)
def test_clipping_runs_before_the_optimizer(method, expected):
    config = OptimizerConfig("sgd", 1.0, clipping=ClippingConfig(method, 1.0))
    np.testing.assert_allclose(_first_update(config, 1.0)["w"], expected, rtol=1e-6)


def test_resolved_hparams_fill_in_the_optimizer_defaults():
    config = OptimizerConfig("adam", 1e-3, hparams={"b1": 0.8})
    assert resolved_hparams(config, 3e-3) == {
        "learning_rate": 3e-3,
        "b1": 0.8,
        "b2": 0.999,
        "eps": 1e-8,
        "mu_dtype": None,
        "nu_dtype": None,
    }

"""The optimizer a config describes: learning-rate sweeps, schedules and clipping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.config import ClippingConfig, OptimizerConfig, ScheduleConfig
from jaxopt_lab.engine.optimizer import make_transform, resolved_hparams

PARAMS = {"w": jnp.ones((3,)), "b": jnp.zeros((2,))}
GRADS = {"w": jnp.asarray([3.0, 0.0, 4.0]), "b": jnp.asarray([0.0, 0.0])}  # global norm 5


def _first_update(config, learning_rate):
    tx = make_transform(config)(jnp.float32(learning_rate))
    updates, _ = tx.update(GRADS, tx.init(PARAMS), PARAMS)
    return updates


def test_the_learning_rate_is_an_argument_and_can_be_traced():
    config = OptimizerConfig("sgd", 0.1)
    build = make_transform(config)
    rates = jnp.asarray([0.1, 0.2])
    updates = jax.vmap(lambda lr: build(lr).update(GRADS, build(lr).init(PARAMS), PARAMS)[0])(rates)
    np.testing.assert_allclose(updates["w"], [[-0.3, 0, -0.4], [-0.6, 0, -0.8]], rtol=1e-6)


def test_a_schedule_multiplies_the_learning_rate_step_by_step():
    schedule = ScheduleConfig(
        "piecewise_constant_schedule", {"init_value": 1.0, "boundaries_and_scales": {1: 0.5}}
    )
    tx = make_transform(OptimizerConfig("sgd", 0.1, schedule=schedule))(jnp.float32(0.1))
    state = tx.init(PARAMS)
    first, state = tx.update(GRADS, state, PARAMS)
    second, _ = tx.update(GRADS, state, PARAMS)
    np.testing.assert_allclose(first["w"], [-0.3, 0, -0.4], rtol=1e-6)  # η = 0.1 · 1
    np.testing.assert_allclose(second["w"], [-0.15, 0, -0.2], rtol=1e-6)  # η = 0.1 · 0.5


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
    }

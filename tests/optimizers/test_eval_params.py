"""``jol.eval_params``: the schedule-free average x wherever its state sits, params otherwise."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol

LR = 0.1


def _params():
    return {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.array([0.5, -0.5])}


def _grads(params, step):
    return jax.tree.map(lambda p: jnp.sin(3.0 * p + step) + p, params)


def _run(optimizer, steps=6):
    params = _params()
    state = optimizer.init(params)
    for step in range(steps):
        updates, state = optimizer.update(_grads(params, step), state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def test_x_is_the_average_of_the_base_sequence_for_constant_rate_and_r_zero():
    """With r = 0 and a constant η, c_{t+1} = 1/(t + 1): x_T is the mean of z_1, …, z_T."""
    optimizer = jol.schedule_free_sgd(LR, momentum=0.8)
    params = _params()
    state, zs = optimizer.init(params), []
    for step in range(5):
        updates, state = optimizer.update(_grads(params, step), state, params)
        params = optax.apply_updates(params, updates)
        zs.append(state.z)
    mean_z = jax.tree.map(lambda *z: sum(z) / len(z), *zs)
    chex.assert_trees_all_close(jol.eval_params(state, params), mean_z, rtol=1e-5, atol=1e-6)
    # and the parameters handed back are y = (1 − β₁) z + β₁ x, not x
    y = jax.tree.map(lambda z, x: 0.2 * z + 0.8 * x, state.z, mean_z)
    chex.assert_trees_all_close(params, y, rtol=1e-5, atol=1e-6)


WRAPPERS = {
    "chain with clipping": lambda factory: optax.chain(
        optax.clip_by_global_norm(10.0), factory(LR)
    ),
    "inject_hyperparams": lambda factory: optax.inject_hyperparams(factory)(learning_rate=LR),
    "MultiSteps of 1": lambda factory: optax.MultiSteps(factory(LR), every_k_schedule=1),
    "MultiSteps in a chain, injected": lambda factory: optax.chain(
        optax.identity(),
        optax.MultiSteps(optax.inject_hyperparams(factory)(learning_rate=LR), 1),
    ),
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
@pytest.mark.parametrize("factory", [jol.schedule_free_sgd, jol.schedule_free_adamw])
def test_x_is_found_inside_optax_wrappers(factory, wrapper):
    plain_params, plain_state = _run(factory(LR))
    params, state = _run(WRAPPERS[wrapper](factory))
    # float32, and an injected β₂ = 0.999 rounds 1 − β₂ᵗ differently (1e-4 relatively at t = 1).
    chex.assert_trees_all_close(params, plain_params, rtol=1e-5, atol=1e-5)
    expected = jol.eval_params(plain_state, plain_params)
    chex.assert_trees_all_close(jol.eval_params(state, params), expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(expected["w"], params["w"])  # x differs from y


def test_works_under_jit_and_keeps_dtypes():
    params = jax.tree.map(lambda p: p.astype(jnp.bfloat16), _params())
    optimizer = jol.schedule_free_adamw(LR)
    state = optimizer.init(params)
    updates, state = optimizer.update(_grads(params, 0), state, params)
    params = optax.apply_updates(params, updates)
    x = jax.jit(jol.eval_params)(state, params)
    chex.assert_trees_all_equal_dtypes(x, params)
    chex.assert_trees_all_close(x, jol.eval_params(state, params))


def test_optax_schedule_free_state_is_recognised():
    params, state = _run(optax.contrib.schedule_free_sgd(LR))
    chex.assert_trees_all_close(
        jol.eval_params(state, params),
        optax.contrib.schedule_free_eval_params(state, params),
    )


@pytest.mark.parametrize("name", ["adam", "sgd", "muon", "lion", "ademamix"])
def test_other_optimizers_get_their_params_back_unchanged(name):
    params, state = _run(jol.get_optimizer(name, learning_rate=LR))
    assert jol.eval_params(state, params) is params


def test_two_schedule_free_states_are_refused():
    params = _params()
    both = optax.chain(jol.schedule_free_sgd(LR), jol.schedule_free_adamw(LR))
    with pytest.raises(ValueError, match="2 schedule-free states"):
        jol.eval_params(both.init(params), params)

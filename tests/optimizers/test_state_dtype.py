"""Moment state in another dtype (``mu_dtype``/``nu_dtype`` of the Adam family): bfloat16 state
is stored and trains; the direction is taken before rounding, as ``optax.adam``'s ``mu_dtype``;
and a bfloat16 second moment stalls (the trap the optimizers' docs describe)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol

FAMILY = {"adam": jol.adam, "adamw": jol.adamw, "nadam": jol.nadam}
TARGET = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)


def _run(tx, steps=200, params=None):
    params = {"w": jnp.zeros((3, 4)), "b": jnp.ones(4)} if params is None else params

    def loss(p):
        return jnp.sum((p["w"] - TARGET) ** 2) + jnp.sum(p["b"] ** 2)

    def step(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, u), s), loss(p)

    (params, state), losses = jax.jit(lambda c: jax.lax.scan(step, c, None, steps))(
        (params, tx.init(params))
    )
    return params, state, np.asarray(losses)


def _moments(state):
    (inner, *_) = state  # the chain's first element: the Adam-family state
    return inner.mu, inner.nu


@pytest.mark.parametrize("name", FAMILY)
def test_bfloat16_moments_are_stored_in_bfloat16_and_still_train(name):
    tx = FAMILY[name](learning_rate=0.05, mu_dtype=jnp.bfloat16, nu_dtype="bfloat16")
    params, state, losses = _run(tx)
    mu, nu = _moments(state)
    assert {leaf.dtype for leaf in jax.tree.leaves((mu, nu))} == {jnp.dtype(jnp.bfloat16)}
    assert {leaf.dtype for leaf in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}
    _, _, reference = _run(FAMILY[name](learning_rate=0.05))
    assert losses[-1] < 1e-2 * losses[0]
    assert losses[-1] < 10 * reference[-1] + 1e-3


@pytest.mark.parametrize("name", FAMILY)
def test_the_parameters_dtype_by_name_is_the_default_bit_for_bit(name):
    default = _run(FAMILY[name](learning_rate=0.05), steps=50)
    named = _run(FAMILY[name](learning_rate=0.05, mu_dtype="float32", nu_dtype="float32"), 50)
    for a, b in zip(jax.tree.leaves(default), jax.tree.leaves(named), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_bfloat16_first_moment_steps_as_optax_adam_with_its_mu_dtype():
    ours = _run(jol.adam(learning_rate=0.05, mu_dtype=jnp.bfloat16), steps=100)
    theirs = _run(optax.adam(learning_rate=0.05, mu_dtype=jnp.bfloat16), steps=100)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(ours[0]), jax.tree.leaves(theirs[0]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_bfloat16_second_moment_stalls_and_the_steps_come_out_too_large():
    """Constant gradient g = 1: v should reach 1 − β₂ᵗ (0.95 after 3,000 steps) and the Adam
    direction m̂/√v̂ should be 1. In bfloat16, β₂v rounds back to v, so v grows by 0.001 a step
    until that is below half a unit in its last place (2⁻⁹ at 0.5): it stops at 0.5 and the
    direction comes out √(0.95/0.5) ≈ 1.38 times too large."""
    steps, ones = 3000, jnp.ones(8)

    def final(nu_dtype):
        tx = jol.optimizers.scale_by_adam(nu_dtype=nu_dtype)
        state = tx.init(ones)
        step = jax.jit(tx.update)
        for _ in range(steps):
            direction, state = step(ones, state)
        return float(state.nu[0]), float(direction[0])

    nu32, direction32 = final(None)
    nu16, direction16 = final(jnp.bfloat16)
    assert nu32 == pytest.approx(1 - 0.999**steps, rel=1e-4)
    assert direction32 == pytest.approx(1.0, rel=1e-3)
    assert nu16 == 0.5  # stalled
    assert direction16 == pytest.approx((nu32 / nu16) ** 0.5, rel=1e-2)
    assert direction16 > 1.3 * direction32


def test_a_bfloat16_second_moment_does_not_decay_when_the_gradient_shrinks():
    """v = 0.5, then g = 0.1: float32's v decays towards 0.01 (by 0.1 % a step); bfloat16's
    decrement is below half a unit in the last place, so v stays 0.5 and the steps
    come out too small (√(0.5/0.01) ≈ 7× once float32's v has settled)."""
    tx = jol.optimizers.scale_by_adam(nu_dtype=jnp.bfloat16)
    step, small = jax.jit(tx.update), jnp.full(8, 0.1)
    state = tx.init(small)._replace(nu=jnp.full(8, 0.5, jnp.bfloat16), count=jnp.asarray(3000))
    for _ in range(1000):
        _, state = step(small, state)
    assert float(state.nu[0]) == 0.5
    assert 0.5 * 0.999**1000 + 0.01 * (1 - 0.999**1000) < 0.2  # where float32 would be


@pytest.mark.parametrize("name", FAMILY)
@pytest.mark.parametrize("knob", ["mu_dtype", "nu_dtype"])
def test_a_state_dtype_that_is_not_a_float_is_refused_at_build_time(name, knob):
    with pytest.raises(ValueError, match=knob):
        FAMILY[name](learning_rate=1e-3, **{knob: jnp.int32})

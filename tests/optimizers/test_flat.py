"""jol.flat: every optimizer run on one flat buffer follows the same rule as on the tree.

Op by op (no jit) the flat path is bit-identical to the wrapped optimizer. Under jit it agrees
to float32 rounding, not bit for bit: XLA on CPU contracts a·b + c into one fused multiply-add
where its fusion allows, and a flat buffer fuses differently from separate leaves (the same
holds between optax and this library). Against the slides' rules in float64 it is as exact as
the library itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab.optimizers.flat import flat, ravel, unravel
from tests.optimizers.test_rules import CASES, assert_paths_close, run_library, run_reference


def _tree(seed: int, dtype=jnp.float32) -> dict:
    """Leaves of several shapes and sizes, nested.

    No 0-d leaf: XLA on CPU divides an array by a broadcast scalar (the bias corrections) as a
    multiplication by its reciprocal, but a 0-d array by a 0-d array exactly, so a 0-d leaf
    and the same number inside a flat buffer can differ in the last bit, with or without
    ``flat``'s help (see test_a_zero_dimensional_leaf_is_still_updated).
    """
    keys = jax.random.split(jax.random.key(seed), 4)
    return {
        "w": jax.random.normal(keys[0], (3, 5), dtype),
        "b": jax.random.normal(keys[1], (5,), dtype),
        "c": jax.random.normal(keys[2], (2,), dtype),
        "layers": [jax.random.normal(keys[3], (7,), dtype)],
    }


def _run(opt: optax.GradientTransformation, params, *, jit: bool = True, steps: int = 3):
    """``steps`` steps with gradients that change every step; the final params and updates."""

    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, updates

    step = jax.jit(step) if jit else step
    state = opt.init(params)
    for seed in range(steps):
        grads = jax.tree.map(lambda p, seed=seed: p * 0.5 + jnp.sin(3.0 * p + seed), params)
        params, state, updates = step(params, state, grads)
    return params, updates


# flat() is for element-wise rules; Muon's Newton–Schulz reduces over each matrix, which one
# flat buffer would turn into a single vector (see jaxopt_lab/optimizers/flat.py).
# Muon reduces over each matrix, the cautious wrappers rescale each leaf by its own count, MARS
# clips each leaf by its norm, Kron and SOAP precondition each axis of a leaf.
NOT_ELEMENT_WISE = ("muon", "cautious_adamw", "cautious_lion", "mars", "kron", "soap")
ELEMENT_WISE = [name for name in jol.OPTIMIZERS if name not in NOT_ELEMENT_WISE]


@pytest.mark.parametrize("name", ELEMENT_WISE)
def test_flat_is_bit_identical_op_by_op(name):
    opt = jol.get_optimizer(name, learning_rate=0.1)
    with jax.disable_jit():
        expected = _run(opt, _tree(100), jit=False)
        got = _run(flat(opt), _tree(100), jit=False)
    assert jax.tree.structure(got) == jax.tree.structure(expected)
    jax.tree.map(np.testing.assert_array_equal, got, expected)


@pytest.mark.parametrize("name", ELEMENT_WISE)
def test_flat_matches_the_wrapped_optimizer_under_jit(name):
    opt = jol.get_optimizer(name, learning_rate=0.1)
    got, expected = _run(flat(opt), _tree(100)), _run(opt, _tree(100))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), got, expected)


@pytest.mark.parametrize(("name", "hyperparameters"), CASES)
def test_flat_follows_the_reference_rule_in_float64(name, hyperparameters):
    with jax.enable_x64(True):
        actual = run_library(flat(jol.get_optimizer(name, **hyperparameters)))
    assert_paths_close(actual, run_reference(name, hyperparameters))


def test_flat_keeps_each_dtype_in_its_own_buffer():
    params = {"f32": _tree(1)["w"], "bf16": _tree(2, jnp.bfloat16)["b"]}
    buffers = ravel(params)
    assert {k: (v.dtype, v.shape) for k, v in buffers.items()} == {
        "float32": (jnp.float32, (15,)),
        "bfloat16": (jnp.bfloat16, (5,)),
    }
    jax.tree.map(np.testing.assert_array_equal, unravel(buffers, params), params)
    opt = jol.adam(1e-2)
    with jax.disable_jit():
        got, expected = _run(flat(opt), params, jit=False), _run(opt, params, jit=False)
    assert got[0]["bf16"].dtype == jnp.bfloat16
    jax.tree.map(np.testing.assert_array_equal, got, expected)


def test_flat_state_is_one_buffer_per_moment():
    state = flat(jol.adam(1e-3)).init(_tree(0))
    mu = state[0].mu
    assert list(mu) == ["float32"] and mu["float32"].shape == (15 + 5 + 2 + 7,)


def test_flat_composes_with_inject_hyperparams():
    opt = flat(optax.inject_hyperparams(jol.adam)(learning_rate=0.1))
    state = opt.init(_tree(0))
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.1)
    with jax.disable_jit():
        got = _run(opt, _tree(3), jit=False)
        expected = _run(optax.inject_hyperparams(jol.adam)(learning_rate=0.1), _tree(3), jit=False)
    jax.tree.map(np.testing.assert_array_equal, got, expected)


def test_a_zero_dimensional_leaf_is_still_updated():
    params = {"scale": jnp.float32(2.0), "w": jnp.ones((3,), jnp.float32)}
    opt = flat(jol.sgd(0.5))
    grads = {"scale": jnp.float32(1.0), "w": jnp.ones(3)}
    updates, _ = opt.update(grads, opt.init(params), params)
    assert updates["scale"].shape == () and float(updates["scale"]) == -0.5


def test_a_tree_without_arrays_is_a_value_error():
    with pytest.raises(ValueError, match="at least one array leaf"):
        flat(jol.sgd(0.1)).init({})


def test_flat_refuses_integer_params_naming_the_leaf_not_the_buffer():
    params = {"w": jnp.ones(3, jnp.float32), "steps": jnp.zeros(2, jnp.int32)}
    with pytest.raises(TypeError, match=r"params\['steps'\] has dtype int32"):
        flat(jol.adam()).init(params)

"""Muon's pieces: the Newton–Schulz iteration, the choice of leaves, shapes and dtypes."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab.optimizers.muon import matrix_shape, muon_labels


def _matrix(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32)


def test_newton_schulz_pushes_singular_values_towards_one():
    u = _matrix((8, 5)) @ jnp.diag(jnp.array([10.0, 3.0, 1.0, 0.3, 0.1]))
    singular_values = jnp.linalg.svd(jol.newton_schulz(u), compute_uv=False)
    assert bool(jnp.all((singular_values > 0.5) & (singular_values < 1.5))), singular_values


def test_a_tall_matrix_is_orthogonalised_through_its_transpose():
    u = _matrix((7, 3))
    chex.assert_trees_all_close(jol.newton_schulz(u), jol.newton_schulz(u.T).T, rtol=1e-6)


def test_zero_steps_only_normalises():
    u = _matrix((3, 4))
    chex.assert_trees_all_close(
        jol.newton_schulz(u, steps=0, eps=0.0), u / jnp.linalg.norm(u), rtol=1e-6
    )


def test_default_labels_give_two_dimensional_leaves_to_muon_and_the_rest_to_adamw():
    params = {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2), "conv": jnp.ones((2, 2, 3))}
    assert muon_labels()(params) == {"kernel": "muon", "bias": "adam", "conv": "adam"}


def test_a_mask_function_or_prefix_chooses_the_leaves():
    params = {"dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}, "head": jnp.ones((2, 1))}
    by_name = muon_labels(lambda p: {"dense": {"kernel": True, "bias": False}, "head": False})
    assert by_name(params) == {"dense": {"kernel": "muon", "bias": "adam"}, "head": "adam"}
    prefix = muon_labels({"dense": True, "head": False})
    assert prefix(params) == {"dense": {"kernel": "muon", "bias": "muon"}, "head": "adam"}


def test_the_masked_out_matrix_follows_adamw_exactly():
    params = {"kernel": _matrix((3, 2)), "bias": _matrix((2,), 1)}
    grads = jax.tree.map(lambda p: jnp.sin(p) + 0.1, params)
    optimizer = jol.muon(0.01, adam_learning_rate=0.003, muon_mask={"kernel": False, "bias": False})
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    adamw = jol.adamw(0.003, weight_decay=0.0)
    expected, _ = adamw.update(grads, adamw.init(params), params)
    chex.assert_trees_all_close(updates, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("shape", "matrix"), [((5, 3), (5, 3)), ((4,), (1, 4)), ((), (1, 1)), ((2, 3, 4), (6, 4))]
)
def test_a_leaf_given_to_muon_is_viewed_as_a_matrix(shape, matrix):
    assert matrix_shape(shape) == matrix
    params = {"w": jnp.ones(shape)}
    optimizer = jol.muon(0.01, muon_mask=True)
    updates, _ = optimizer.update(params, optimizer.init(params), params)
    assert updates["w"].shape == shape
    assert bool(jnp.all(jnp.isfinite(updates["w"])))


def test_ns_dtype_runs_newton_schulz_in_bfloat16_like_torch_and_keeps_the_update_dtype():
    params = {"w": _matrix((6, 4))}
    grads = {"w": _matrix((6, 4), 2)}
    full = jol.muon(0.01)
    low = jol.muon(0.01, ns_dtype=jnp.bfloat16)
    full_updates, _ = full.update(grads, full.init(params), params)
    low_updates, _ = low.update(grads, low.init(params), params)
    assert low_updates["w"].dtype == jnp.float32
    difference = np.max(np.abs(np.asarray(low_updates["w"] - full_updates["w"])))
    # bfloat16 has 8 bits of mantissa, which five Newton–Schulz steps amplify (11% here)
    assert 0 < difference < 0.25 * np.max(np.abs(np.asarray(full_updates["w"])))


def test_inject_hyperparams_with_a_mask_function_as_a_static_argument():
    params = {"w": _matrix((3, 2)), "b": _matrix((2,), 1)}

    def mask(p):
        return {"w": False, "b": True}

    injected = optax.inject_hyperparams(jol.muon, static_args=("muon_mask",))(
        learning_rate=0.01, muon_mask=mask
    )
    plain = jol.muon(0.01, muon_mask=mask)
    grads = jax.tree.map(jnp.cos, params)
    ours, _ = jax.jit(injected.update)(grads, injected.init(params), params)
    expected, _ = plain.update(grads, plain.init(params), params)
    chex.assert_trees_all_close(ours, expected, rtol=1e-5, atol=1e-7)

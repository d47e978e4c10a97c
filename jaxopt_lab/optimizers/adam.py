"""Adam, with ε outside the square root of the bias-corrected second moment.

    m ← β₁ m + (1 − β₁) g
    v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)        (t = 1, 2, … the step)
    θ ← θ − η m̂ / (√v̂ + ε)

Reference: Kingma & Ba (2015), "Adam: A method for stochastic optimization", ICLR.

Conventions. The same formula as ``optax.adam`` (with ``eps_root=0``) and ``torch.optim.Adam``.
The bias corrections are computed once per step as scalars.

State precision. ``mu_dtype`` and ``nu_dtype`` store m and v in another float dtype (None: the
parameters'). The step computes the new moments in the gradient's dtype, takes the direction from
them, and only then rounds them for storage, as ``optax.adam``'s ``mu_dtype`` does (optax has no
``nu_dtype``). A bfloat16 **first** moment is the usual memory saving and costs little. A
bfloat16 **second** moment is a trap: β₂v rounds back to v in bfloat16 (with β₂ = 0.999 the
decay is less than half a unit in v's last place), so v cannot decay, and it grows by (1 − β₂)g²
each step until that increment is itself below half a unit. For a constant gradient v stops at
g²/2 (each step √2 ≈ 1.4 times too large, for good); after a phase of large gradients it stays
where it was (steps too small); both measured in ``tests/optimizers/test_state_dtype.py``. Keep
``nu_dtype`` at float32 unless β₂ ≤ 0.99.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    check_float_dtype,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)


class ScaleByAdamState(NamedTuple):
    """Step count t and the moment estimates m (``mu``) and v (``nu``)."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def check_adam_hyperparameters(b1: float, b2: float, eps: float) -> None:
    """β₁, β₂ in [0, 1) and ε ≥ 0, shared by the Adam family."""
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    check_non_negative("eps", eps)


def init_adam_state(params, mu_dtype: Any = None, nu_dtype: Any = None) -> ScaleByAdamState:
    """t = 0 and zero moments shaped like ``params`` (in ``mu_dtype``/``nu_dtype`` if given)."""
    return ScaleByAdamState(
        jnp.zeros([], jnp.int32), zeros_like(params, mu_dtype), zeros_like(params, nu_dtype)
    )


def update_moments(updates, state: ScaleByAdamState, b1: float, b2: float) -> ScaleByAdamState:
    """One step of the moment estimates: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², t ← t + 1, in
    the gradient's dtype (``store_moments`` rounds them to the state's)."""
    mu = tree_map_like(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
    nu = tree_map_like(lambda g, v: b2 * v + (1 - b2) * (g * g), updates, state.nu)
    return ScaleByAdamState(optax.safe_increment(state.count), mu, nu)


def check_state_dtypes(mu_dtype: Any, nu_dtype: Any) -> None:
    """``mu_dtype`` and ``nu_dtype``: None or a float dtype (``jnp.bfloat16``, "bfloat16")."""
    check_float_dtype("mu_dtype", mu_dtype)
    check_float_dtype("nu_dtype", nu_dtype)


def store_moments(state: ScaleByAdamState, mu_dtype: Any, nu_dtype: Any) -> ScaleByAdamState:
    """The state with m and v rounded to ``mu_dtype``/``nu_dtype`` (None: left as computed)."""

    def cast(tree, dtype):
        return tree if dtype is None else jax.tree.map(lambda a: a.astype(dtype), tree)

    return state._replace(mu=cast(state.mu, mu_dtype), nu=cast(state.nu, nu_dtype))


def scale_by_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """The Adam direction m̂ / (√v̂ + ε); m and v stored in ``mu_dtype``/``nu_dtype``."""
    check_adam_hyperparameters(b1, b2, eps)
    check_state_dtypes(mu_dtype, nu_dtype)

    def update_fn(updates, state, params=None):
        del params
        state = update_moments(updates, state, b1, b2)
        c1 = bias_correction(b1, state.count)
        c2 = bias_correction(b2, state.count)
        direction = tree_map_like(
            lambda g, m, v: (m / c1) / (jnp.sqrt(v / c2) + eps), updates, state.mu, state.nu
        )
        return direction, store_moments(state, mu_dtype, nu_dtype)

    return optax.GradientTransformation(
        lambda params: init_adam_state(params, mu_dtype, nu_dtype), update_fn
    )


def adam(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam: θ ← θ − η m̂ / (√v̂ + ε).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-3).
      b1: β₁ in [0, 1), decay of the first moment (default 0.9).
      b2: β₂ in [0, 1), decay of the second moment (default 0.999).
      eps: ε ≥ 0, added to √v̂ (default 1e-8).
      mu_dtype: the dtype m is stored in, e.g. ``jnp.bfloat16`` (default None: the parameters').
      nu_dtype: the dtype v is stored in (default None; bfloat16 is a trap, see the module doc).
    """
    return optax.chain(
        scale_by_adam(b1, b2, eps, mu_dtype, nu_dtype), scale_by_learning_rate(learning_rate)
    )

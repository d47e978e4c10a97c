"""Nadam: Adam with a Nesterov look-ahead on the first moment (Dozat's form, no momentum schedule).

    m, v, v̂ as in Adam (t = 1, 2, … the step)
    θ ← θ − η (β₁ m / (1 − β₁^{t+1}) + (1 − β₁) g / (1 − β₁ᵗ)) / (√v̂ + ε)

Reference: Dozat (2016), "Incorporating Nesterov momentum into Adam", ICLR workshop.

Conventions. The same formula as ``optax.nadam``. ``torch.optim.NAdam`` additionally applies
Dozat's momentum-decay schedule μ_t = β₁(1 − ½·0.96^{t·ψ}) (``momentum_decay=4e-3``), so it
differs slightly; this module follows the schedule-free form.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    scale_by_learning_rate,
    tree_map_like,
)
from jaxopt_lab.optimizers.adam import (
    check_adam_hyperparameters,
    check_state_dtypes,
    init_adam_state,
    store_moments,
    update_moments,
)


def scale_by_nadam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """The Nadam direction (β₁ m/(1−β₁^{t+1}) + (1−β₁) g/(1−β₁ᵗ)) / (√v̂ + ε).

    The state is Adam's (``ScaleByAdamState``), m and v stored in ``mu_dtype``/``nu_dtype``.
    """
    check_adam_hyperparameters(b1, b2, eps)
    check_state_dtypes(mu_dtype, nu_dtype)

    def update_fn(updates, state, params=None):
        del params
        state = update_moments(updates, state, b1, b2)
        c1_next = bias_correction(b1, state.count + 1)
        c1 = bias_correction(b1, state.count)
        c2 = bias_correction(b2, state.count)
        direction = tree_map_like(
            lambda g, m, v: (b1 * m / c1_next + (1 - b1) * g / c1) / (jnp.sqrt(v / c2) + eps),
            updates,
            state.mu,
            state.nu,
        )
        return direction, store_moments(state, mu_dtype, nu_dtype)

    return optax.GradientTransformation(
        lambda params: init_adam_state(params, mu_dtype, nu_dtype), update_fn
    )


def nadam(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Nadam: Adam whose first moment looks one step ahead.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-3).
      b1: β₁ in [0, 1) (default 0.9).
      b2: β₂ in [0, 1) (default 0.999).
      eps: ε ≥ 0, added to √v̂ (default 1e-8).
      mu_dtype: the dtype m is stored in, e.g. ``jnp.bfloat16`` (default None: the parameters').
      nu_dtype: the dtype v is stored in (default None; bfloat16 is a trap: ``adam``'s doc).
    """
    return optax.chain(
        scale_by_nadam(b1, b2, eps, mu_dtype, nu_dtype), scale_by_learning_rate(learning_rate)
    )

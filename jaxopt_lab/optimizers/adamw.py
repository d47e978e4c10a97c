"""AdamW: Adam with weight decay decoupled from the gradient.

    m̂, v̂ as in Adam
    θ ← θ − η (m̂ / (√v̂ + ε) + λ θ)

Reference: Loshchilov & Hutter (2019), "Decoupled weight decay regularization", ICLR.

Conventions. The same formula as ``optax.adamw`` and ``torch.optim.AdamW`` (both multiply λθ by
η, so the decay follows a learning-rate schedule). The decay applies to every parameter; to
exclude biases, build ``optax.chain(scale_by_adam(), optax.add_decayed_weights(λ, mask),
scale_by_learning_rate(η))``.
"""

from __future__ import annotations

from typing import Any

import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    check_float_params,
    check_non_negative,
    scale_by_learning_rate,
    tree_map_like,
)
from jaxopt_lab.optimizers.adam import scale_by_adam


def add_decayed_weights(weight_decay: float = 1e-2) -> optax.GradientTransformation:
    """u ↦ u + λ θ (``optax.add_decayed_weights`` without a mask, keeping each leaf's dtype)."""
    check_non_negative("weight_decay", weight_decay)

    def init_fn(params):
        check_float_params(params)
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                "add_decayed_weights needs the parameters: call update(grads, state, params)."
            )
        return tree_map_like(lambda u, p: u + weight_decay * p, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)


def adamw(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdamW: θ ← θ − η (m̂ / (√v̂ + ε) + λ θ).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-3).
      b1: β₁ in [0, 1) (default 0.9).
      b2: β₂ in [0, 1) (default 0.999).
      eps: ε ≥ 0, added to √v̂ (default 1e-8).
      weight_decay: λ ≥ 0, the decoupled decay (default 1e-2).
      mu_dtype: the dtype m is stored in, e.g. ``jnp.bfloat16`` (default None: the parameters').
      nu_dtype: the dtype v is stored in (default None; bfloat16 is a trap: ``adam``'s doc).
    """
    return optax.chain(
        scale_by_adam(b1, b2, eps, mu_dtype, nu_dtype),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )

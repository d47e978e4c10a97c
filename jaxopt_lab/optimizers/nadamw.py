"""NAdamW: Nadam's look-ahead first moment with weight decay decoupled from the gradient.

    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,   v̂ = v / (1 − β₂ᵗ)   (t = 1, 2, …)
    d = m̄ / (√v̂ + ε),  with the look-ahead m̄ one of
      "algoperf" (default):  m̄ = (β₁ m + (1 − β₁) g) / (1 − β₁ᵗ)
      "optax":               m̄ = β₁ m / (1 − β₁ᵗ⁺¹) + (1 − β₁) g / (1 − β₁ᵗ)
      "torch":               m̄ = μₜ₊₁ m / (1 − Π_{s≤t+1} μₛ) + (1 − μₜ) g / (1 − Π_{s≤t} μₛ),
                             μₜ = β₁ (1 − ½ · 0.96^{t ψ})   (ψ = ``momentum_decay``)
    θ ← θ − η (d + λ θ)

References: Dozat (2016), "Incorporating Nesterov momentum into Adam", ICLR workshop;
Loshchilov & Hutter (2019), "Decoupled weight decay regularization", ICLR; the AlgoPerf
baseline (Dahl et al. 2023, "Benchmarking neural network training algorithms", whose rule is
Table 1 of Choi et al. 2019, "On empirical comparisons of optimizers for deep learning").

Conventions. Three published forms of the look-ahead, each matched in float64 for 100 steps
(``tests/optimizers/test_nadamw.py``; AlgoPerf's, no package, by a literal transcription):

- ``variant="algoperf"`` (default): ``nadamw`` of mlcommons/algorithmic-efficiency
  (``reference_algorithms/paper_baselines/nadamw``, JAX and PyTorch, forked from init2winit):
  the look-ahead β₁m + (1 − β₁)g gets Adam's single correction 1 − β₁ᵗ. It is the baseline
  AlgoPerf tunes and scores, hence the default.
- ``variant="optax"``: ``optax.nadamw`` (``scale_by_adam(nesterov=True)``), Dozat's per-term
  corrections with a constant μ = β₁; the same direction as this library's ``nadam``.
- ``variant="torch"``: ``torch.optim.NAdam(decoupled_weight_decay=True)``, Dozat's
  momentum-decay schedule μₜ (ψ = 4e-3 by default, as torch). m is still averaged with β₁ (μₜ
  enters only the look-ahead), as torch does; Π μₛ is kept in the state. As ψ → ∞, μₜ → β₁ and
  this becomes ``"optax"``; ψ = 0 is not the constant-β₁ form but μ = β₁/2.

The forms part most at the first steps, while β₁ᵗ is not small: at t = 1 the look-ahead is
(1 + β₁) g = 1.9 g for "algoperf", (1 + β₁/(1 + β₁)) g ≈ 1.47 g for "optax" and ≈ 1.06 g for
"torch" (β₁ = 0.9, ψ = 4e-3: μ₁ ≈ β₁/2); afterwards "algoperf" and "optax" agree to O(β₁ᵗ),
"torch" to O(0.96^{tψ}), which is slow: its μₜ reaches 0.99 β₁ only after t ≈ 24,000 steps.

Weight decay. Decoupled and multiplied by η (so it follows a learning-rate schedule), applied
to the parameters before the step, in all three references: AlgoPerf adds λθ to the direction
before scaling by −η (its JAX code; its PyTorch code multiplies θ by 1 − ηλ first, the same θ),
``optax.nadamw`` likewise, torch multiplies θ by 1 − ηλ. The default λ = 1e-2 is AlgoPerf's
PyTorch ``NAdamW`` default (also ``torch.optim.AdamW``'s and this library's ``adamw``), so
switching a config from ``adamw`` to ``nadamw`` changes only the direction; ``optax.nadamw``
defaults to 1e-4, AlgoPerf's JAX function to 0 (its submissions always pass a tuned λ:
log-uniform in [5e-3, 1]), torch's ``NAdam`` to 0. ``mask`` (as in optax and AlgoPerf) chooses
the leaves that decay: a pytree of booleans like the parameters (or a prefix of them), or a
function of the parameters returning one, e.g. ``lambda p: jax.tree.map(lambda x: x.ndim > 1,
p)`` to spare biases and norms; None decays every leaf. Under ``optax.inject_hyperparams`` a
mask function must be a static argument (``static_args=("mask",)``), as any callable is taken
for a schedule there. The direction treats every leaf alike, whatever its rank (a 4-D kernel,
a bias, a scalar), elementwise.

State precision. ``mu_dtype``/``nu_dtype`` store m and v in another float dtype, exactly as
``adam``'s (the direction is taken before rounding); a bfloat16 second moment is the trap
``adam``'s docstring describes (v stalls, the step stays √2× too large).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    check_choice,
    check_non_negative,
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
from jaxopt_lab.optimizers.adamw import add_decayed_weights

VARIANTS = ("algoperf", "optax", "torch")


class ScaleByNadamwState(NamedTuple):
    """Step count t, the moments m (``mu``) and v (``nu``), and Π_{s≤t} μₛ (β₁ᵗ but for
    ``variant="torch"``), one scalar in JAX's default float type."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates
    mu_product: jax.Array


def scale_by_nadamw(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    variant: str = "algoperf",
    momentum_decay: float = 4e-3,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """The NAdam direction m̄ / (√v̂ + ε), m̄ as ``variant`` says (see the module docstring)."""
    check_adam_hyperparameters(b1, b2, eps)
    check_choice("variant", variant, VARIANTS)
    check_non_negative("momentum_decay", momentum_decay)
    check_state_dtypes(mu_dtype, nu_dtype)

    def init_fn(params):
        adam = init_adam_state(params, mu_dtype, nu_dtype)
        return ScaleByNadamwState(*adam, mu_product=jnp.ones([], jnp.result_type(float)))

    def update_fn(updates, state, params=None):
        del params
        moments = update_moments(updates, state, b1, b2)
        dtype = state.mu_product.dtype
        t = moments.count.astype(dtype)
        if variant == "torch":
            mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        else:
            mu_t = mu_next = jnp.asarray(b1, dtype)
        mu_product = (state.mu_product * mu_t).astype(dtype)
        if variant == "algoperf":
            coefficient_m = b1 / (1 - mu_product)
            coefficient_g = (1 - b1) / (1 - mu_product)
        else:
            coefficient_m = mu_next / (1 - mu_product * mu_next)
            coefficient_g = (1 - mu_t) / (1 - mu_product)
        c2 = bias_correction(b2, moments.count)
        direction = tree_map_like(
            lambda g, m, v: (coefficient_m * m + coefficient_g * g) / (jnp.sqrt(v / c2) + eps),
            updates,
            moments.mu,
            moments.nu,
        )
        stored = store_moments(moments, mu_dtype, nu_dtype)
        return direction, ScaleByNadamwState(*stored, mu_product=mu_product)

    return optax.GradientTransformation(init_fn, update_fn)


def nadamw(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    variant: str = "algoperf",
    momentum_decay: float = 4e-3,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """NAdamW: θ ← θ − η (m̄ / (√v̂ + ε) + λ θ), m̄ Nesterov's look-ahead (module docstring).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-3).
      b1: β₁ in [0, 1), decay of the first moment (default 0.9).
      b2: β₂ in [0, 1), decay of the second moment (default 0.999).
      eps: ε ≥ 0, added to √v̂ (default 1e-8).
      weight_decay: λ ≥ 0, the decoupled decay, multiplied by η (default 1e-2).
      variant: the look-ahead's form, "algoperf" (default), "optax" or "torch".
      momentum_decay: ψ ≥ 0 of the "torch" form's schedule μₜ (default 4e-3, torch's);
        the other forms do not read it.
      mask: which leaves decay: None (all), a pytree of booleans or a function of the
        parameters returning one (default None).
      mu_dtype: the dtype m is stored in, e.g. ``jnp.bfloat16`` (default None: the parameters').
      nu_dtype: the dtype v is stored in (default None; bfloat16 is a trap: ``adam``'s doc).
    """
    decay = add_decayed_weights(weight_decay)
    if mask is not None:
        decay = optax.masked(decay, mask)
    return optax.chain(
        scale_by_nadamw(b1, b2, eps, variant, momentum_decay, mu_dtype, nu_dtype),
        decay,
        scale_by_learning_rate(learning_rate),
    )

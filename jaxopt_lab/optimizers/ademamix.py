"""AdEMAMix: AdamW with a second, slow momentum added to the fast one.

    m₁ ← β₁ m₁ + (1 − β₁) g                 fast EMA, bias-corrected: m̂₁ = m₁ / (1 − β₁ᵗ)
    m₂ ← β₃(t) m₂ + (1 − β₃(t)) g           slow EMA, not bias-corrected
    v  ← β₂ v + (1 − β₂) g²                 v̂ = v / (1 − β₂ᵗ)
    θ ← θ − η ((m̂₁ + α(t) m₂) / (√v̂ + ε) + λ θ)        t = 1, 2, … the step

with the paper's warmup schedulers (each off when its length is None):

    α(t)  = α · min(1, t / T_α)
    β₃(t) = f⁻¹((1 − a) f(β₁) + a f(β₃)),  a = t / T_β₃, while t < T_β₃; β₃ from then on,
            f(β) = ln ½ / ln β − 1,  f⁻¹(h) = ½^{1/(h+1)},

so the slow EMA's half-life grows linearly from the fast one's to its own while α ramps up
(without them, a large β₃ and α make the first steps unstable).

Reference: Pagliardini, Ablin & Grangier (2024), "The AdEMAMix optimizer: better, faster,
older", arXiv:2409.03137 (Algorithm 1, and its code at github.com/apple/ml-ademamix).

Conventions. ``optax.contrib.ademamix`` is the same rule (ε outside the root, λθ multiplied by
η); it has no warmups of its own but takes ``b3`` and ``alpha`` as schedules of its 0-based
count, so ``optax.contrib.ademamix(η, b3=lambda c: β₃(c + 1), alpha=lambda c: α(c + 1))`` is
this optimizer (``tests/optimizers/test_references.py`` checks it). The paper's PyTorch code
evaluates its schedulers at the 1-based step, as here, and adds 1e-8 to β inside the logarithm,
which moves β₃(t) by about 1e-8; it uses one length T for both warmups (here T_α and T_β₃ are
separate: pass the same number for its behaviour). ``torch.optim`` has no AdEMAMix. Defaults
follow optax (α = 5).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    check_integer,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)
from jaxopt_lab.optimizers.adam import (
    ScaleByAdamState,
    check_adam_hyperparameters,
    init_adam_state,
    update_moments,
)
from jaxopt_lab.optimizers.adamw import add_decayed_weights


class ScaleByAdemamixState(NamedTuple):
    """Adam's state (t, m₁ as ``mu``, v as ``nu``) and the slow EMA m₂."""

    adam: ScaleByAdamState
    m2: optax.Updates


def alpha_at(alpha, warmup, t):
    """α(t) = α · min(1, t / T_α) for the 1-based step t; α itself when ``warmup`` is None."""
    return alpha if warmup is None else alpha * jnp.minimum(1.0, t / warmup)


def b3_at(b1, b3, warmup, t):
    """β₃(t), whose half-life grows linearly from β₁'s to β₃'s over ``warmup`` steps."""
    if warmup is None:
        return b3

    def half_life(beta):  # the steps for βᵏ to halve, minus one
        return jnp.log(0.5) / jnp.log(beta) - 1

    a = t / warmup
    warming = 0.5 ** (1 / ((1 - a) * half_life(b1) + a * half_life(b3) + 1))
    return jnp.where(t < warmup, warming, b3)


def scale_by_ademamix(
    b1: float = 0.9,
    b2: float = 0.999,
    b3: float = 0.9999,
    alpha: float = 5.0,
    b3_warmup: int | None = None,
    alpha_warmup: int | None = None,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """The AdEMAMix direction (m̂₁ + α(t) m₂) / (√v̂ + ε)."""
    check_adam_hyperparameters(b1, b2, eps)
    check_unit_interval("b3", b3)
    check_non_negative("alpha", alpha)
    for name, warmup in (("b3_warmup", b3_warmup), ("alpha_warmup", alpha_warmup)):
        if warmup is not None:
            check_integer(name, warmup, minimum=1)

    def init_fn(params):
        return ScaleByAdemamixState(adam=init_adam_state(params), m2=zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        adam = update_moments(updates, state.adam, b1, b2)
        t = adam.count.astype(jnp.result_type(float))
        b3_t, alpha_t = b3_at(b1, b3, b3_warmup, t), alpha_at(alpha, alpha_warmup, t)
        m2 = tree_map_like(lambda m, g: b3_t * m + (1 - b3_t) * g, state.m2, updates)
        c1, c2 = bias_correction(b1, adam.count), bias_correction(b2, adam.count)
        direction = tree_map_like(
            lambda m1, m2, v: (m1 / c1 + alpha_t * m2) / (jnp.sqrt(v / c2) + eps),
            adam.mu,
            m2,
            adam.nu,
        )
        return direction, ScaleByAdemamixState(adam, m2)

    return optax.GradientTransformation(init_fn, update_fn)


def ademamix(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    b3: float = 0.9999,
    alpha: float = 5.0,
    b3_warmup: int | None = None,
    alpha_warmup: int | None = None,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    """AdEMAMix: θ ← θ − η ((m̂₁ + α(t) m₂) / (√v̂ + ε) + λ θ).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-3).
      b1: β₁ in [0, 1), decay of the fast EMA (default 0.9).
      b2: β₂ in [0, 1), decay of the second moment (default 0.999).
      b3: β₃ in [0, 1), decay of the slow EMA (default 0.9999).
      alpha: α ≥ 0, the weight of the slow EMA (default 5).
      b3_warmup: T_β₃ ≥ 1, the steps over which β₃(t) rises from β₁ to β₃, or None (default:
        β₃ from the first step).
      alpha_warmup: T_α ≥ 1, the steps over which α(t) rises from 0 to α, or None (default:
        α from the first step).
      eps: ε ≥ 0, added to √v̂ (default 1e-8).
      weight_decay: λ ≥ 0, the decoupled decay, multiplied by η (default 0).
    """
    return optax.chain(
        scale_by_ademamix(b1, b2, b3, alpha, b3_warmup, alpha_warmup, eps),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )

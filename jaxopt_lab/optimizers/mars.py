"""MARS: AdamW (or Lion) on a variance-reduced, clipped gradient; AdamW for the 1-D leaves.

For a leaf MARS takes, with g_t its gradient, g_{t−1} the previous step's (0 at t = 1) and t the
1-based step:

    c = g_t + γ β₁/(1 − β₁) (g_t − g_{t−1})        the scaled gradient correction
    c ← c / max(1, ‖c‖)                            clipped to norm 1, per leaf (all its entries)
    m ← β₁ m + (1 − β₁) c
    "adamw":  v ← β₂ v + (1 − β₂) c²;  θ ← θ − η (m̂ / (√v̂ + ε) + λ θ),
              m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)
    "lion":   θ ← θ − η (sign(m) + λ θ)

and for the other leaves plain AdamW on g with their own rate η′ = r η (r =
``learning_rate_1d_factor``), β₁′, β₂′ = ``b1_1d``, ``b2_1d``, λ′ = ``weight_decay_1d`` and the
same ε. The leaves MARS takes are those with exactly two dimensions, as in the authors' code
(``len(grad.shape) == 2``): 1-D biases, scalars *and the 4-D kernels of a CNN* go to AdamW
unless ``optimize_1d=True`` (every leaf to MARS) or ``mars_mask`` says otherwise (the authors'
ResNet-18 runs, ``train_CV.py``, so trained the convolutions with AdamW and η′).
``pytorch_optimizer`` gives MARS every leaf with ``ndim >= 2``; to follow it, pass
``mars_mask=lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)``.

Reference: Yuan, Liu, Wu, Gu (2024), "MARS: Unleashing the Power of Variance Reduction for
Training Large Models", arXiv:2411.10438; the authors' code github.com/AGI-Arena/MARS
(``MARS/optimizers/mars.py``).

Conventions. This is **MARS-approx**, what the authors' experiments, their released optimizer
(``is_approx=True``, the default) and ``pytorch_optimizer.MARS`` run: g_{t−1} is the gradient of
the previous step, at the previous parameters and on the previous batch, kept in the state
(``last_grad``). The exact MARS evaluates a second gradient at x_{t−1} on the *current* batch,
which a ``GradientTransformation`` cannot do. The first step uses g₀ = 0, as both codes do, so
c₁ = (1 + γβ₁/(1 − β₁)) g₁ before clipping (1.475 g₁ at the defaults); the paper's exact form,
with x₀ = x₁, would have no correction there.

Everything else follows the authors' code, which ``pytorch_optimizer.MARS`` (4.1.0) matches
except where said (``tests/optimizers/test_mars.py`` checks both in float64). optax (0.2.8) has
no MARS, in ``optax.contrib`` neither.

- ε is added to √v̂ (the bias-corrected root), as the authors' ``denom = (√v / √(1 − β₂ᵗ) + ε)
  (1 − β₁ᵗ)``. ``pytorch_optimizer`` adds it to the uncorrected √(v + 1e-15), i.e. uses
  ε/√(1 − β₂ᵗ) in this form (10 ε at t = 1 with β₂ = 0.99); the two agree at ε = 0, up to
  that 1e-15.
- The decay is decoupled and multiplied by the leaf's learning rate (η, or η′ for the AdamW
  leaves): θ ← θ − η (u + λ θ) in both codes. The defaults λ = 0 and λ′ = 0.1 are theirs.
- The clipping is per leaf (per tensor), not global, in both.
- The defaults η = 3e-3, β = (0.95, 0.99), γ = 0.025, ε = 1e-8, β′ = (0.9, 0.95) are theirs.
  Both codes take ``lr_1d`` (default 3e-3) and keep the ratio r = ``lr_1d``/``lr`` fixed when
  the optimizer is built, multiplying the *current* η by it at every step, so a schedule moves
  the AdamW leaves' rate along; here r is the hyperparameter (default 1, their ratio at their
  defaults): torch's ``MARS(lr=a, lr_1d=b)`` is ``mars(a, learning_rate_1d_factor=b / a)``
  under any schedule. An η of 0 freezes every leaf, and a sweep over η moves both rates
  together (the authors' GPT-2 settings are r = 0.5 at every size; their CIFAR runs kept
  ``lr_1d`` at 3e-3 while the grid moved ``lr``).
- "lion" keeps no v (both codes allocate one and leave it at 0); its m is updated before the
  sign, unlike Lion's own interpolation (``jaxopt_lab.optimizers.lion``).
- Not implemented: "shampoo" (Newton–Schulz on m, as ``muon``), AMSGrad (``amsgrad`` /
  ``ams_bound``), ``pytorch_optimizer``'s ``cautious``, ``maximize`` and coupled decay.
  Its ``cautious=True`` masks m by 1[m g > 0] · n/(Σ 1[m g > 0] + 1) with the raw gradient g,
  before the division by the denominator (or the sign) and outside the decay: for "adamw" that
  is a cautious wrapper around ``scale_by_mars`` (output "direction", rescale "count") chained
  before the decay and η; for "lion" the sign then drops the rescale, leaving the mask alone.

State per leaf: m, v and g_{t−1} for an "adamw" leaf (two for "lion"), m and v for an AdamW leaf.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    check_choice,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)
from jaxopt_lab.optimizers.adamw import adamw, add_decayed_weights

MARS_TYPES = ("adamw", "lion")


class ScaleByMarsState(NamedTuple):
    """The step count t, the moments m (``mu``) and v (``nu``, None for "lion") and g_{t−1}."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates | None
    last_grad: optax.Updates


def clip_to_unit_norm(c: jax.Array) -> jax.Array:
    """c / max(1, ‖c‖) over all entries of c, the norm summed in at least float32."""
    wide = c.astype(jnp.promote_types(c.dtype, jnp.float32))
    return c / jnp.maximum(jnp.sqrt(jnp.sum(wide * wide)), 1.0).astype(c.dtype)


def scale_by_mars(
    b1: float = 0.95,
    b2: float = 0.99,
    gamma: float = 0.025,
    eps: float = 1e-8,
    mars_type: str = "adamw",
) -> optax.GradientTransformation:
    """The MARS direction m̂ / (√v̂ + ε) ("adamw") or sign(m) ("lion") of the clipped
    c = g_t + γ β₁/(1 − β₁) (g_t − g_{t−1}), for every leaf it is given."""
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    check_non_negative("gamma", gamma)
    check_non_negative("eps", eps)
    check_choice("mars_type", mars_type, MARS_TYPES)
    adaptive = mars_type == "adamw"

    def init_fn(params):
        return ScaleByMarsState(
            count=jnp.zeros([], jnp.int32),
            mu=zeros_like(params),
            nu=zeros_like(params) if adaptive else None,
            last_grad=zeros_like(params),
        )

    def update_fn(updates, state, params=None):
        del params
        scale = gamma * (b1 / (1 - b1))
        corrected = tree_map_like(
            lambda g, last: clip_to_unit_norm(g + scale * (g - last)), updates, state.last_grad
        )
        mu = tree_map_like(lambda m, c: b1 * m + (1 - b1) * c, state.mu, corrected)
        count = optax.safe_increment(state.count)
        last_grad = tree_map_like(lambda _, g: g, state.last_grad, updates)
        if not adaptive:
            direction = tree_map_like(jnp.sign, mu)
            return direction, ScaleByMarsState(count, mu, None, last_grad)
        nu = tree_map_like(lambda v, c: b2 * v + (1 - b2) * c * c, state.nu, corrected)
        correction1, correction2 = bias_correction(b1, count), bias_correction(b2, count)
        direction = tree_map_like(
            lambda m, v: (m / correction1) / (jnp.sqrt(v / correction2) + eps), mu, nu
        )
        return direction, ScaleByMarsState(count, mu, nu, last_grad)

    return optax.GradientTransformation(init_fn, update_fn)


def mars_labels(mars_mask: Any = None, optimize_1d: bool = False) -> Callable[[Any], Any]:
    """params ↦ a tree of "mars" / "adamw" labels: the 2-D leaves (every leaf with
    ``optimize_1d``), or as ``mars_mask`` says (a pytree of bools shaped like, or a prefix of,
    the params, or a function of the params returning one)."""

    def labels(params):
        mask = mars_mask(params) if callable(mars_mask) else mars_mask
        if mask is None:
            mask = jax.tree.map(lambda p: optimize_1d or jnp.ndim(p) == 2, params)
        return jax.tree.map(
            lambda take, subtree: jax.tree.map(lambda _: "mars" if take else "adamw", subtree),
            mask,
            params,
        )

    return labels


def mars(
    learning_rate: ScalarOrSchedule = 3e-3,
    b1: float = 0.95,
    b2: float = 0.99,
    gamma: float = 0.025,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    mars_type: str = "adamw",
    optimize_1d: bool = False,
    learning_rate_1d_factor: float = 1.0,
    b1_1d: float = 0.9,
    b2_1d: float = 0.95,
    weight_decay_1d: float = 0.1,
    mars_mask: Any = None,
) -> optax.GradientTransformation:
    """MARS(-approx) for the 2-D leaves, θ ← θ − η (u + λ θ); AdamW for the others.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 3e-3).
      b1: β₁ in [0, 1), the momentum of c and the weight of the correction (default 0.95).
      b2: β₂ in [0, 1), the decay of v for "adamw" (default 0.99).
      gamma: γ ≥ 0, the strength of the correction; 0 is AdamW (Lion) on the clipped g
        (default 0.025).
      eps: ε ≥ 0 in m̂ / (√v̂ + ε), for both kinds of leaves (default 1e-8).
      weight_decay: λ ≥ 0 for MARS's leaves, decoupled and multiplied by η (default 0).
      mars_type: "adamw" (default) or "lion", the direction taken from m.
      optimize_1d: give every leaf to MARS (default False: the 2-D leaves only).
      learning_rate_1d_factor: r ≥ 0, the AdamW leaves' rate η′ = r η as a multiple of η,
        schedule included (default 1; the references' ``lr_1d / lr``).
      b1_1d, b2_1d: the AdamW leaves' β₁′ (0.9) and β₂′ (0.95).
      weight_decay_1d: λ′ ≥ 0 for the AdamW leaves, multiplied by η′ (default 0.1).
      mars_mask: which leaves MARS takes, overriding ``optimize_1d``: None (default) for the
        rule above, else a pytree of bools shaped like (or a prefix of) the params, or a
        function of the params returning one. Under ``optax.inject_hyperparams`` pass a function
        through ``static_args=("mars_mask",)``, or it is called as a schedule.
    """
    if not isinstance(optimize_1d, bool):
        raise ValueError(f"optimize_1d={optimize_1d!r} is invalid: it must be True or False.")
    check_unit_interval("b1_1d", b1_1d)
    check_unit_interval("b2_1d", b2_1d)
    check_non_negative("weight_decay_1d", weight_decay_1d)
    check_non_negative("learning_rate_1d_factor", learning_rate_1d_factor)
    mars_part = optax.chain(
        scale_by_mars(b1, b2, gamma, eps, mars_type),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )
    if optimize_1d and mars_mask is None:
        return mars_part
    adamw_part = adamw(
        _scaled(learning_rate, learning_rate_1d_factor), b1_1d, b2_1d, eps, weight_decay_1d
    )
    return optax.partition(
        {"mars": mars_part, "adamw": adamw_part}, mars_labels(mars_mask, optimize_1d)
    )


def _scaled(learning_rate: ScalarOrSchedule, factor: Any) -> ScalarOrSchedule:
    """r η_t: a schedule times r, or the product."""
    if callable(learning_rate):
        return lambda count: factor * learning_rate(count)
    return factor * learning_rate

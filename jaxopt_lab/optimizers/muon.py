"""Muon: momentum orthogonalised by a Newton–Schulz iteration, for matrices; AdamW for the rest.

For a weight matrix of shape A × B = fan_in × fan_out (a Flax ``Dense`` kernel's layout), with β
the momentum and t the step:

    m ← β m + (1 − β) g                       (torch's lerp form: m.lerp_(g, 1 − β))
    u = (1 − β) g + β m  if Nesterov, else m
    O = NS(u / (‖u‖_F + ε))                   5 steps of X ← a X + (b XXᵀ + c (XXᵀ)²) X,
                                              on the transpose when A > B (so XXᵀ is small)
    θ ← θ (1 − η λ) − η s O,   s = √max(1, B/A)   ("original", Jordan)
                               s = 0.2 √max(A, B) ("match_rms_adamw", Liu et al.)

(a, b, c) = (3.4445, −4.775, 2.0315) pushes every singular value of u towards 1 quickly rather
than exactly: O ≈ U S′ Vᵀ with S′ roughly between 0.5 and 1.5, where u = U S Vᵀ.

Leaves that are not 2-D (biases, scalars) go to AdamW inside the same transformation, as in
``optax.contrib.muon``: m̂ / (√v̂ + ε′) + λ′θ with β₁′ = ``adam_b1``, β₂′ = ``adam_b2``,
ε′ = ``adam_eps``, λ′ = ``adam_weight_decay`` (default 0) and the learning rate
``adam_learning_rate`` (default η). ``muon_mask`` overrides which leaves Muon takes: a pytree of
bools shaped like (or a prefix of) the params, or a function of the params returning one. A
leaf it gives Muon that is not 2-D is viewed as a matrix: 1-D (and 0-D) as one row 1 × n, more
dimensions as (the rest) × shape[-1], fan_in × fan_out of a Flax convolution kernel
(h, w, in, out), as Jordan's code flattens torch's (out, in, h, w) filters to out × (the rest).

References: Jordan et al. (2024), "Muon: an optimizer for hidden layers in neural networks",
kellerjordan.github.io/posts/muon; Liu et al. (2025), "Muon is scalable for LLM training",
arXiv:2502.16982 (the 0.2 √max(A, B) scale, to reuse AdamW's η and λ).

Conventions. The rule of ``torch.optim.Muon`` (torch ≥ 2.9), whose defaults for momentum,
Nesterov, the coefficients, ε = 1e-7 and the steps these are (its η is 1e-3 and λ 0.1; here
η = 0.02 as in Jordan's code, λ = 0). Differences, all checked in
``tests/optimizers/test_references.py``:

- torch runs Newton–Schulz in bfloat16 whatever the parameters' dtype; here it runs in
  ``ns_dtype``, by default the parameter's own dtype (pass ``ns_dtype=jnp.bfloat16`` for torch's
  behaviour). The reference test runs torch's iteration in float64.
- torch normalises by max(‖u‖_F, ε), here by ‖u‖_F + ε (Jordan's and optax's form); the two
  differ by ε/‖u‖_F relatively.
- s = √max(1, fan_out/fan_in) is the scale Jordan's code and torch intend: they store a linear
  layer's weight as (out, in) and write √max(1, rows/cols). A Flax kernel is (in, out), so here
  that is √max(1, B/A), as ``optax.contrib.muon`` computes with its default dimension numbers;
  the reference tests hand torch the transposed matrices.
- ``optax.contrib.muon`` bias-corrects the momentum. Without Nesterov that is a scalar factor
  which the normalisation cancels (up to ε); with Nesterov it weights g and m differently in
  the first steps (β m̂_{t+1} + (1 − β) ĝ_t), so the two agree only once β^t is negligible.
  Its AdamW for the other leaves shares Muon's ε and, with Nesterov, is NAdamW; here it is plain
  AdamW with its own ``adam_eps``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    check_choice,
    check_finite_tuple,
    check_float_dtype,
    check_integer,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)
from jaxopt_lab.optimizers.adamw import adamw, add_decayed_weights

NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)
ADJUST_LR = ("original", "match_rms_adamw")


class ScaleByMuonState(NamedTuple):
    """The momentum m (``mu``)."""

    mu: optax.Updates


def matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """A × B = fan_in × fan_out, the shape Muon sees a leaf as: 2-D as it is, 1 × n below,
    (the rest) × shape[-1] above (a Flax convolution kernel's (h, w, in) × out)."""
    if len(shape) == 2:
        return shape
    if len(shape) < 2:
        return (1, math.prod(shape))
    return (math.prod(shape[:-1]), shape[-1])


def newton_schulz(
    u: jax.Array,
    steps: int = 5,
    coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    eps: float = 1e-7,
) -> jax.Array:
    """O = NS(u / (‖u‖_F + ε)) for a matrix u, in u's dtype (see the module docstring)."""
    a, b, c = coefficients
    tall = u.shape[0] > u.shape[1]
    x = u.T if tall else u
    x = x / (jnp.linalg.norm(x) + eps)

    def step(_, x):
        gram = x @ x.T
        return a * x + (b * gram + c * gram @ gram) @ x

    # A loop, not unrolled in Python: steps is an array under optax.inject_hyperparams.
    x = jax.lax.fori_loop(0, steps, step, x)
    return x.T if tall else x


def shape_scale(shape: tuple[int, ...], adjust_lr: str) -> float:
    """s for a leaf of ``shape`` viewed as an A × B = fan_in × fan_out matrix: √max(1, B/A) or
    0.2 √max(A, B)."""
    fan_in, fan_out = matrix_shape(shape)
    if adjust_lr == "original":
        return math.sqrt(max(1.0, fan_out / fan_in))
    return 0.2 * math.sqrt(max(fan_in, fan_out))


def scale_by_muon(
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_steps: int = 5,
    ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    eps: float = 1e-7,
    adjust_lr: str = "original",
    ns_dtype: Any = None,
) -> optax.GradientTransformation:
    """The Muon direction s · NS(u / (‖u‖_F + ε)) for every leaf it is given (as a matrix)."""
    check_unit_interval("momentum", momentum)
    check_integer("ns_steps", ns_steps, minimum=0)
    check_finite_tuple("ns_coefficients", ns_coefficients, 3)
    check_non_negative("eps", eps)
    check_choice("adjust_lr", adjust_lr, ADJUST_LR)
    check_float_dtype("ns_dtype", ns_dtype)
    if not isinstance(nesterov, bool):
        raise ValueError(f"nesterov={nesterov!r} is invalid: it must be True or False.")

    def init_fn(params):
        return ScaleByMuonState(mu=zeros_like(params))

    def direction(g, m):
        u = (1 - momentum) * g + momentum * m if nesterov else m
        matrix = u.reshape(matrix_shape(u.shape)).astype(ns_dtype or u.dtype)
        orthogonal = newton_schulz(matrix, ns_steps, ns_coefficients, eps)
        return shape_scale(u.shape, adjust_lr) * orthogonal.reshape(u.shape)

    def update_fn(updates, state, params=None):
        del params
        mu = tree_map_like(lambda m, g: momentum * m + (1 - momentum) * g, state.mu, updates)
        return tree_map_like(direction, updates, mu), ScaleByMuonState(mu)

    return optax.GradientTransformation(init_fn, update_fn)


def muon_labels(muon_mask: Any = None) -> Callable[[Any], Any]:
    """params ↦ a tree of "muon" / "adam" labels: the 2-D leaves, or as ``muon_mask`` says."""

    def labels(params):
        mask = muon_mask(params) if callable(muon_mask) else muon_mask
        if mask is None:
            mask = jax.tree.map(lambda p: p.ndim == 2, params)
        return jax.tree.map(
            lambda take, subtree: jax.tree.map(lambda _: "muon" if take else "adam", subtree),
            mask,
            params,
        )

    return labels


def muon(
    learning_rate: ScalarOrSchedule = 0.02,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_steps: int = 5,
    ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    eps: float = 1e-7,
    weight_decay: float = 0.0,
    adjust_lr: str = "original",
    ns_dtype: Any = None,
    adam_learning_rate: ScalarOrSchedule | None = None,
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps: float = 1e-8,
    adam_weight_decay: float = 0.0,
    muon_mask: Any = None,
) -> optax.GradientTransformation:
    """Muon for 2-D leaves, θ ← θ (1 − η λ) − η s NS(u); AdamW for the others.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 0.02).
      momentum: β in [0, 1) (default 0.95).
      nesterov: orthogonalise (1 − β) g + β m rather than m (default True).
      ns_steps: Newton–Schulz steps, an integer ≥ 0 (default 5).
      ns_coefficients: (a, b, c) of the quintic iteration (default (3.4445, −4.775, 2.0315)).
      eps: ε ≥ 0 in u / (‖u‖_F + ε) (default 1e-7).
      weight_decay: λ ≥ 0 for Muon's leaves, multiplied by η (default 0).
      adjust_lr: the scale s, "original" √max(1, B/A) or "match_rms_adamw" 0.2 √max(A, B),
        for A × B = fan_in × fan_out.
      ns_dtype: the dtype Newton–Schulz runs in; None (default) is each parameter's dtype.
      adam_learning_rate: η for the AdamW leaves; None (default) is ``learning_rate``.
      adam_b1, adam_b2, adam_eps, adam_weight_decay: AdamW's β₁ (0.9), β₂ (0.999), ε (1e-8)
        and λ (0) for the leaves Muon does not take.
      muon_mask: which leaves Muon takes: None (default) for the 2-D ones, else a pytree of
        bools shaped like (or a prefix of) the params, or a function of the params returning
        one. Under ``optax.inject_hyperparams`` pass a function here through
        ``static_args=("muon_mask",)``, or inject_hyperparams calls it as a schedule.
    """
    muon_part = optax.chain(
        scale_by_muon(momentum, nesterov, ns_steps, ns_coefficients, eps, adjust_lr, ns_dtype),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )
    adam_part = adamw(
        learning_rate if adam_learning_rate is None else adam_learning_rate,
        adam_b1,
        adam_b2,
        adam_eps,
        adam_weight_decay,
    )
    return optax.partition({"muon": muon_part, "adam": adam_part}, muon_labels(muon_mask))

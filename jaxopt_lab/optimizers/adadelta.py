"""Adadelta: step sizes from the ratio of two running RMS values.

    E_g ← ρ E_g + (1 − ρ) g²
    Δ   = √(E_Δ + ε) / √(E_g + ε) · g
    E_Δ ← ρ E_Δ + (1 − ρ) Δ²
    θ   ← θ − η Δ

Reference: Zeiler (2012), "ADADELTA: An adaptive learning rate method", arXiv:1212.5701. The
paper has no η (η = 1); PyTorch and optax add it as a multiplier.

Conventions. The same formula as ``optax.adadelta`` and ``torch.optim.Adadelta(lr=η, rho=ρ,
eps=ε)`` (ε inside both roots). The default η = 1.0 is the paper's and PyTorch's.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)


class ScaleByAdadeltaState(NamedTuple):
    """The running means of squared gradients E_g and of squared steps E_Δ."""

    e_g: optax.Updates
    e_delta: optax.Updates


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> optax.GradientTransformation:
    """The Adadelta step Δ = √(E_Δ + ε) / √(E_g + ε) · g, before η."""
    check_unit_interval("rho", rho)
    check_non_negative("eps", eps)

    def init_fn(params):
        return ScaleByAdadeltaState(zeros_like(params), zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        e_g = tree_map_like(lambda e, g: rho * e + (1 - rho) * (g * g), state.e_g, updates)
        delta = tree_map_like(
            lambda g, ed, eg: jnp.sqrt(ed + eps) / jnp.sqrt(eg + eps) * g,
            updates,
            state.e_delta,
            e_g,
        )
        # Δ² written as (E_Δ + ε)/(E_g + ε)·g², so no square root is shared between the step
        # and this update: XLA would otherwise write both roots to fresh temporaries, which
        # the CPU backend page-faults in every step (docs/benchmarks.md, Optimizer step).
        e_delta = tree_map_like(
            lambda e, g, eg: rho * e + (1 - rho) * ((e + eps) / (eg + eps) * (g * g)),
            state.e_delta,
            updates,
            e_g,
        )
        return delta, ScaleByAdadeltaState(e_g, e_delta)

    return optax.GradientTransformation(init_fn, update_fn)


def adadelta(
    learning_rate: ScalarOrSchedule = 1.0, rho: float = 0.9, eps: float = 1e-6
) -> optax.GradientTransformation:
    """Adadelta: θ ← θ − η Δ with Δ = √(E_Δ + ε) / √(E_g + ε) · g.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1.0, the paper's).
      rho: ρ in [0, 1), decay of both running means (default 0.9).
      eps: ε ≥ 0, inside both square roots (default 1e-6).
    """
    return optax.chain(scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))

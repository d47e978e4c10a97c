"""Schedule-free SGD and AdamW: no learning-rate decay; an average of the iterates instead.

Three sequences start from z₀ = x₀ = θ₀; t = 0, 1, … is the 0-based step and d the base
direction:

    y_t     = (1 − β₁) z_t + β₁ x_t           gradients g_t are taken here; the parameters are y
    z_{t+1} = z_t − η_t d_t                   SGD: d = g + λ y;  AdamW: d = g / (√v̂ + ε) + λ y
    x_{t+1} = (1 − c_{t+1}) x_t + c_{t+1} z_{t+1},    c_{t+1} = w_t / Σ_{s≤t} w_s
    w_t     = (t + 1)^r (max_{s≤t} η_s)^{weight_lr_power},    η_t = η min(1, (t + 1) / W)

with W the warmup steps (none for W = 0) and c = 0 while every η_s was 0. AdamW's
v ← β₂ v + (1 − β₂) g², v̂ = v / (1 − β₂^{t+1}), has no first moment: the interpolation y
replaces it. β₁ is ``momentum`` for SGD and ``b1`` for AdamW.

**Evaluate at x, train at y.** The parameters the optimizer hands back are y; the model to
evaluate (and to report) is x = (y − (1 − β₁) z) / β₁: ``jol.eval_params(opt_state, params)``
returns it, finding the schedule-free state anywhere in ``opt_state`` (inside ``optax.chain``,
``optax.inject_hyperparams``, ``optax.MultiSteps``), and returns ``params`` unchanged for every
other optimizer. As in the ``schedulefree`` package, y is updated without forming x,

    y_{t+1} = (1 − c) y_t + c z_t + η_t (β₁ (1 − c) − 1) d_t,

which the rule above gives after substituting x_t = (y_t − (1 − β₁) z_t) / β₁; hence β₁ > 0.

Reference: Defazio et al. (2024), "The road less scheduled", NeurIPS.

Conventions. The rule and the defaults of the ``schedulefree`` PyTorch package's
``SGDScheduleFree`` and ``AdamWScheduleFree`` (``.train()`` mode's parameters are y, ``.eval()``
swaps in x). ``optax.contrib.schedule_free_sgd`` and ``schedule_free_adamw`` are the same rule
without warmup and with r = 0 (optax has no r). With warmup they differ: optax's warmup schedule
starts at 0 and its z step uses η·t/W, one step behind its own averaging weights, which use
η·(t + 1)/W; here both use η·(t + 1)/W, as the ``schedulefree`` package does. A learning-rate
schedule η(t) multiplies the warmup factor, both at the 0-based t (the method is meant for a
constant η). ``tests/optimizers/test_references.py`` compares with both references in float64.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    check_integer,
    check_learning_rate,
    check_non_negative,
    check_open_unit_interval,
    check_unit_interval,
    learning_rate_at,
    tree_map_like,
    zeros_like,
)
from jaxopt_lab.optimizers.adamw import add_decayed_weights


class ScheduleFreeState(NamedTuple):
    """t, β₁ (for ``eval_params``), Σ w_s, max η_s, the base sequence z and d's state."""

    count: jax.Array
    b1: jax.Array
    weight_sum: jax.Array
    max_lr: jax.Array
    z: optax.Params
    direction_state: optax.OptState


def schedule_free(
    direction: optax.GradientTransformation,
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    warmup_steps: int = 0,
    r: float = 0.0,
    weight_lr_power: float = 2.0,
) -> optax.GradientTransformation:
    """Schedule-free steps along an η-free ``direction`` d (see the module docstring).

    ``direction`` sees the gradients at y and y itself as ``params``; it must carry no momentum
    of its own (the interpolation is the momentum).
    """
    check_learning_rate(learning_rate)
    check_open_unit_interval("b1", b1)
    check_integer("warmup_steps", warmup_steps, minimum=0)
    check_non_negative("r", r)
    check_non_negative("weight_lr_power", weight_lr_power)

    def init_fn(params):
        dtype = jnp.result_type(float)
        z = jax.tree.map(jnp.array, params)  # a copy: params and z may both be donated
        return ScheduleFreeState(
            count=jnp.zeros([], jnp.int32),
            b1=jnp.array(b1, dtype),
            weight_sum=jnp.zeros([], dtype),  # one array per leaf, so the state can be donated
            max_lr=jnp.zeros([], dtype),
            z=z,
            direction_state=direction.init(params),
        )

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                "schedule-free optimizers need the parameters: call update(grads, state, params)."
            )
        dtype = state.weight_sum.dtype
        t = state.count.astype(dtype)
        warmup = jnp.minimum(1.0, (t + 1) / jnp.maximum(warmup_steps, 1))  # W = 0: none
        eta = (learning_rate_at(learning_rate, state.count) * warmup).astype(dtype)
        max_lr = jnp.maximum(state.max_lr, eta)
        weight = (t + 1) ** r * max_lr**weight_lr_power
        weight_sum = state.weight_sum + weight
        c = jnp.where(weight_sum > 0, weight / jnp.where(weight_sum > 0, weight_sum, 1), 0)
        d, direction_state = direction.update(updates, state.direction_state, params)
        new_updates = tree_map_like(
            lambda y, z, d: c * (z - y) + eta * (b1 * (1 - c) - 1) * d, params, state.z, d
        )
        z = tree_map_like(lambda z, d: z - eta * d, state.z, d)
        new_state = ScheduleFreeState(
            count=optax.safe_increment(state.count),
            b1=jnp.array(b1, dtype),
            weight_sum=weight_sum,
            max_lr=max_lr,
            z=z,
            direction_state=direction_state,
        )
        return new_updates, new_state

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByRmsState(NamedTuple):
    """Step count t and the second moment v (``nu``)."""

    count: jax.Array
    nu: optax.Updates


def scale_by_bias_corrected_rms(
    b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """g / (√v̂ + ε): Adam's direction without a first moment (β₁ = 0), storing only v."""
    check_unit_interval("b2", b2)
    check_non_negative("eps", eps)

    def init_fn(params):
        return ScaleByRmsState(jnp.zeros([], jnp.int32), zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        nu = tree_map_like(lambda v, g: b2 * v + (1 - b2) * (g * g), state.nu, updates)
        c2 = bias_correction(b2, count)
        direction = tree_map_like(lambda g, v: g / (jnp.sqrt(v / c2) + eps), updates, nu)
        return direction, ScaleByRmsState(count, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def schedule_free_adamw(
    learning_rate: ScalarOrSchedule = 0.0025,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    r: float = 0.0,
    weight_lr_power: float = 2.0,
) -> optax.GradientTransformation:
    """Schedule-free AdamW: z ← z − η_t (g / (√v̂ + ε) + λ y); y, x as in the module docstring.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 0.0025).
      b1: β₁ in (0, 1), the weight of x in y (default 0.9).
      b2: β₂ in [0, 1), decay of the second moment (default 0.999).
      eps: ε ≥ 0, added to √v̂ (default 1e-8).
      weight_decay: λ ≥ 0, taken at y and multiplied by η_t (default 0).
      warmup_steps: W, an integer ≥ 0: η_t = η (t + 1) / W for t < W (default 0: none).
      r: r ≥ 0, the power of (t + 1) in the averaging weights (default 0).
      weight_lr_power: the power ≥ 0 of max η in the averaging weights (default 2).

    Evaluate at ``jol.eval_params(opt_state, params)``.
    """
    direction = optax.chain(scale_by_bias_corrected_rms(b2, eps), add_decayed_weights(weight_decay))
    return schedule_free(direction, learning_rate, b1, warmup_steps, r, weight_lr_power)


def schedule_free_sgd(
    learning_rate: ScalarOrSchedule = 1.0,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    r: float = 0.0,
    weight_lr_power: float = 2.0,
) -> optax.GradientTransformation:
    """Schedule-free SGD: z ← z − η_t (g + λ y); y, x as in the module docstring.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1.0).
      momentum: β₁ in (0, 1), the weight of x in y (default 0.9).
      weight_decay, warmup_steps, r, weight_lr_power: as for ``schedule_free_adamw``.

    Evaluate at ``jol.eval_params(opt_state, params)``.
    """
    check_open_unit_interval("momentum", momentum)
    return schedule_free(
        add_decayed_weights(weight_decay),
        learning_rate,
        momentum,
        warmup_steps,
        r,
        weight_lr_power,
    )


def _is_schedule_free(node: Any) -> bool:
    return isinstance(node, ScheduleFreeState | optax.contrib.ScheduleFreeState)


def eval_params(opt_state: optax.OptState, params: optax.Params) -> optax.Params:
    """The parameters to evaluate: x for a schedule-free optimizer, ``params`` for any other.

    Looks for one schedule-free state (this module's, or ``optax.contrib.schedule_free``'s)
    anywhere in ``opt_state`` (inside ``optax.chain``, ``optax.inject_hyperparams``,
    ``optax.MultiSteps``, …) and returns x = (y − (1 − β₁) z) / β₁ with y = ``params``, in each
    leaf's dtype. Without one, returns ``params`` itself. Works under ``jit`` and ``vmap``.

    Raises:
      ValueError: when ``opt_state`` holds more than one schedule-free state (which x?).
    """
    nodes = jax.tree.leaves(opt_state, is_leaf=_is_schedule_free)
    found = [node for node in nodes if _is_schedule_free(node)]
    if not found:
        return params
    if len(found) > 1:
        raise ValueError(
            f"opt_state holds {len(found)} schedule-free states; eval_params needs exactly one "
            "(compute x = (y − (1 − b1) z) / b1 from the state of the one you mean)."
        )
    b1, z = found[0].b1, found[0].z
    return tree_map_like(lambda y, z: (y - (1 - b1) * z) / b1, params, z)

"""PSGD Kron: SGD preconditioned by a Kronecker product of triangular or diagonal factors.

For a leaf G of shape n₁ × … × n_k the preconditioner is P = QᵀQ with Q = Q₁ ⊗ … ⊗ Q_k, one
factor per axis: an upper-triangular n_i × n_i matrix, or a diagonal (stored as its n_i
entries) for an axis of size 1, an axis longer than ``max_size_triangular``, every axis of a
leaf with fewer than ``min_ndim_triangular`` axes (biases), and the axes ``memory_save_mode``
names. Applying Q_i along axis i is written G ×_i Q_i. With m the momentum and t the step:

    m ← β m + (1 − β) g,   m̂ = m / (1 − βᵗ)
    every ⌈1/p(t)⌉ steps (see below), with V ~ N(0, I) shaped like the leaf:
        H = m̂ + δ·mean|m̂|·V                    (the damped pair (V, H); g instead of m̂ if
                                                   ``momentum_into_precond_update=False``)
        A = H ×₁ Q₁ ⋯ ×_k Q_k,   B = V ×₁ Q₁⁻ᵀ ⋯ ×_k Q_k⁻ᵀ
        for each axis i, with A₍ᵢ₎ the mode-i unfolding (n_i × the rest):
            T₁ = A₍ᵢ₎A₍ᵢ₎ᵀ, T₂ = B₍ᵢ₎B₍ᵢ₎ᵀ          (only their diagonals for a diagonal Q_i)
            Q_i ← Q_i − η_Q triu(T₁ − T₂) Q_i / (‖T₁ + T₂‖₂ˡᵒʷᵉʳ + tiny)    (triangular)
            q_i ← q_i − η_Q (T₁ − T₂) q_i / (max|T₁ + T₂| + tiny)             (diagonal)
    u = m̂ ×₁ Q₁ᵀQ₁ ⋯ ×_k Q_kᵀQ_k                   (P m̂)
    u ← u / max(1, RMS(u) / 1.1)
    θ ← θ − η (u + λ θ)

‖·‖₂ˡᵒʷᵉʳ is a cheap lower bound of the spectral norm (``norm_lower_bound``: the norm of the
matrix applied to its largest row or column, within √2 of the norm). The Q step is Li's
"2nd"-order step normalisation: each factor moves along a relative Lie-group direction of size
at most η_Q. The fit drives E[P H Hᵀ P] towards E[V Vᵀ] = I, so P whitens the (momentum)
gradients: P ≈ E[m̂ m̂ᵀ]^(−1/2), and the clip keeps each leaf's RMS step at most 1.1 η.
With probability 0.01 per update, before it, a leaf's factors are rescaled to equal max-abs
norms (their product, hence P, unchanged: Q_i ← Q_i · (Π_j ‖Q_j‖_max)^(1/k) / ‖Q_i‖_max).
A 0-d leaf (a scalar) is treated as shape (1,): one diagonal factor, P m̂ = q² m̂.

When Q is updated. ``preconditioner_update_probability`` p is a number in [0, 1] or a
function of the 1-based step t (default ``precond_update_prob_schedule()``:
p(t) = clip(exp(−0.001 (t − 500)), 0.03, 1), every step for the first 500 steps, then fewer,
down to 3 % from about step 4,000). With ``preconditioner_update_rule="counter"`` (default, both
references) a counter c counts steps since the last update and Q is updated when c + 1 ≥ 1/p,
deterministically, at the expected rate p; with ``"random"`` (Li's psgd_torch) it is updated
when a draw U ~ U(0, 1) falls below p. The skip is a switch that stays lazy under
``jax.vmap`` (``_lanes.switch_per_lane``): over runs whose steps go together (the engine's
sweeps of learning rates and seeds) the fit runs only at the steps some run fits, where a
``lax.cond`` with a batched predicate would compute it at every step and select (on the busy
CPU, a 784-128-10 MLP: 7.6 ms a step without the fit and 100 ms with it for one run). The
switch has no reverse-mode derivative, which an optimizer's update does not need.

Randomness. Every draw comes from key = ``jax.random.key(seed)``, the seed kept in the state
(``ScaleByKronState.seed``, a uint32 scalar, so that the state stays plain arrays that
checkpoints can save; default 5318008 as psgd-jax hard-codes it): at the step whose 0-based
count is c, ``key_c = fold_in(key, c)``; ``key_c, k = split(key_c)``; the coin of the
"random" rule is ``uniform(key_c) < p``; the update uses k: ``k, s = split(k)``, the balance
coin ``uniform(s) < 0.01``, ``k, s = split(k)``, and V for the i-th leaf (in
``jax.tree.leaves`` order) is ``normal(split(s, n_leaves)[i])``, in the leaf's compute dtype.
These are psgd-jax's draws exactly, so for float32/float64 leaves this transformation and
psgd-jax take the same V and the same balance decisions; ``preconditioner_draws`` returns
them, so that another implementation can be fed the same numbers
(``tests/optimizers/test_kron.py`` does so for PyTorch). Replace the seed
(``state._replace(seed=jnp.uint32(s))``) to draw otherwise.

References: Li (2018), "Preconditioned stochastic gradient descent", IEEE TNNLS 29(5),
arXiv:1512.04202; Li (2019), "Preconditioner on matrix Lie group for SGD", ICLR,
arXiv:1809.10232 (the Kronecker-factored Q and its update); the Kron variant with the update
schedule, bias-corrected momentum fed to the fit and the RMS clip is Evan Walters' psgd-jax
(``psgd_jax.kron``, also kron_torch), after Li's ``Kron`` class in lixilinx/psgd_torch (2024).

Conventions. The rule of psgd-jax 0.2.9's ``kron`` (its defaults: η = 1e-3, β = 0.9,
``max_size_triangular`` 8192, ``min_ndim_triangular`` 2, η_Q = 0.1, Q₀ = I, δ = √ε_float32),
which ``tests/optimizers/test_kron.py`` matches in float64. Differences:

- dtypes: Q and m are stored in the parameters' dtype unless ``precond_dtype``/``mu_dtype``
  say otherwise (psgd-jax keeps Q in JAX's default float, float32, whatever the parameters);
  the arithmetic runs in at least float32 (a bfloat16 leaf is preconditioned in float32 and its
  update rounded back). psgd-jax balances the factors' norms in float32 even for float64
  leaves; here in the compute dtype. psgd-jax's matmul precision options, scanned layers and
  Flax ``Partitioned`` boxes are not reproduced.
- pytorch-optimizer 4.1.0's ``Kron`` differs as follows (all measured in the test): it does
  not damp the pair (δ = 0, ``precond_damping=0.0`` here reproduces it; Li's psgd_torch damps
  since December 2024, as psgd-jax does); it evaluates the schedule at the 0-based step (one
  step earlier than here); it clips by u · min(1, 1.1 / (RMS(u) + 1e-6)); it decays only
  leaves with ≥ 2 axes (``weight_decay_mask`` reproduces it; psgd-jax, and Li's own
  torch.optim wrapper of 2026, decay every leaf);
  it runs its triangular solves in float32 whatever the dtype; and it has a
  ``memory_save_mode="smart_one_diag"``, not offered here.
- Li's psgd_torch ``Kron`` (2024, and its later torch.optim wrappers) updates Q with
  probability p by a coin (the ``"random"`` rule here), fits Q to the raw gradient and neither
  bias-corrects the momentum nor clips by RMS (it offers a global-norm clip); where the two
  references disagree this module follows psgd-jax, which Li's code supports on each point it
  has (the damping, decay of every leaf), and otherwise is silent on (the schedule, the clip).

Weight decay is decoupled and multiplied by η (optax's ``add_decayed_weights`` before the
learning rate, as psgd-jax; pytorch-optimizer adds λθ to the clipped update, the same). State:
m (one value per parameter) and the factors: n_i² for a triangular factor (stored full, as both
references do) and n_i for a diagonal one, so a 784 × 128 matrix holds 784² + 128² + 784·128
values (7.29 per parameter) and a vector 2 per parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    _concrete,
    bias_correction,
    check_choice,
    check_float_dtype,
    check_float_params,
    check_integer,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
)
from jaxopt_lab.optimizers._lanes import switch_per_lane
from jaxopt_lab.optimizers.adamw import add_decayed_weights

SEED = 5318008  # psgd-jax's fixed seed: the default draws are psgd-jax's own
PRECOND_DAMPING = float(np.sqrt(np.finfo(np.float32).eps, dtype=np.float32))  # 2^-11.5 in f32
BALANCE_PROBABILITY = 0.01
MAX_SIZE_TRIANGULAR = 8192
MIN_NDIM_TRIANGULAR = 2
CLIP_RMS = 1.1
MEMORY_SAVE_MODES = ("one_diag", "all_diag")
UPDATE_RULES = ("counter", "random")


def precond_update_prob_schedule(
    max_prob: float = 1.0, min_prob: float = 0.03, decay: float = 0.001, flat_start: int = 500
) -> Callable[[jax.Array], jax.Array]:
    """p(t) = min(max(p_max exp(−decay (t − flat_start)), p_min), p_max), t the 1-based step.

    psgd-jax's default: every step for ``flat_start`` steps, then down to ``min_prob``.
    """

    def schedule(step):
        return jnp.minimum(
            jnp.maximum(max_prob * jnp.exp(-decay * (step - flat_start)), min_prob), max_prob
        )

    return schedule


class ScaleByKronState(NamedTuple):
    """The step count t, the steps since Q was last updated, the seed of the PRNG key the draws
    are folded from, the momentum m (``mu``) and the factors of Q: per leaf, in
    ``jax.tree.leaves`` order, the tuple of its factors (a plain tuple, whatever the params'
    containers: a Flax NNX ``State`` would take a tuple for a container of its own)."""

    count: jax.Array
    update_counter: jax.Array
    seed: jax.Array
    mu: optax.Updates
    preconditioners: tuple[tuple[jax.Array, ...], ...]


# The preconditioner, one leaf -------------------------------------------------------------------


def factor_kinds(
    shape: tuple[int, ...],
    max_size_triangular: int = MAX_SIZE_TRIANGULAR,
    min_ndim_triangular: int = MIN_NDIM_TRIANGULAR,
    memory_save_mode: str | None = None,
) -> tuple[bool, ...]:
    """Per axis of a leaf of ``shape`` (a 0-d leaf counts as (1,)): True for a triangular
    factor, False for a diagonal one (see the module docstring)."""
    shape = tuple(shape) or (1,)
    diagonal = [False] * len(shape)
    if memory_save_mode == "one_diag":
        diagonal[int(np.argsort(shape)[::-1][0])] = True  # the largest axis (psgd-jax's choice)
    elif memory_save_mode == "all_diag":
        diagonal = [True] * len(shape)
    return tuple(
        not (size == 1 or size > max_size_triangular or len(shape) < min_ndim_triangular or diag)
        for size, diag in zip(shape, diagonal, strict=True)
    )


def init_factors(
    shape: tuple[int, ...], kinds: tuple[bool, ...], scale: Any, dtype: Any
) -> tuple[jax.Array, ...]:
    """Q₀ = scale · I: each factor scale^(1/k) · I (triangular) or scale^(1/k) · 1 (diagonal)."""
    shape = tuple(shape) or (1,)
    per_axis = jnp.asarray(scale) ** (1.0 / len(shape))
    return tuple(
        (per_axis * (jnp.eye(n) if triangular else jnp.ones(n))).astype(dtype)
        for n, triangular in zip(shape, kinds, strict=True)
    )


def _along(x: jax.Array, factor: jax.Array, axis: int) -> jax.Array:
    """x ×_axis Q: the matrix Q (or the diagonal q) applied to every fibre of x along ``axis``."""
    if factor.ndim == 1:
        return x * factor.reshape((-1,) + (1,) * (x.ndim - axis - 1))
    return jnp.moveaxis(jnp.tensordot(factor, x, axes=(1, axis)), 0, axis)


def _solve_transposed_along(x: jax.Array, factor: jax.Array, axis: int) -> jax.Array:
    """x ×_axis Q⁻ᵀ for an upper-triangular Q (or x / q for a diagonal one)."""
    if factor.ndim == 1:
        return x / factor.reshape((-1,) + (1,) * (x.ndim - axis - 1))
    moved = jnp.moveaxis(x, axis, 0)
    solved = jax.lax.linalg.triangular_solve(
        factor, moved.reshape(moved.shape[0], -1), left_side=True, lower=False, transpose_a=True
    )
    return jnp.moveaxis(solved.reshape(moved.shape), 0, axis)


def _gram(x: jax.Array, axis: int, triangular: bool) -> jax.Array:
    """X₍ᵢ₎X₍ᵢ₎ᵀ for the mode-``axis`` unfolding X₍ᵢ₎, or only its diagonal."""
    unfolded = jnp.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    if triangular:
        return unfolded @ unfolded.T
    return jnp.sum(unfolded * unfolded, axis=1)


def norm_lower_bound(a: jax.Array) -> jax.Array:
    """A lower bound of the spectral norm ‖a‖₂, within √2 of it in practice (Li's estimate).

    With a scaled by its largest entry, the norm of a applied to the unit vector along its
    largest column (or row, whichever has the larger sum of squares); 0 for a = 0. Both
    candidates are computed (two matrix-vector products) and one is selected, rather than
    branching, which keeps the compiled update small.
    """
    max_abs = jnp.max(jnp.abs(a))
    a = a / jnp.where(max_abs > 0, max_abs, 1)
    squares = a * a
    column_sums, row_sums = jnp.sum(squares, axis=0), jnp.sum(squares, axis=1)
    i, j = jnp.argmax(column_sums), jnp.argmax(row_sums)
    x = a[:, i] @ a
    by_column = jnp.linalg.norm((x / _nonzero(jnp.linalg.norm(x))) @ a.T)
    y = a @ a[j]
    by_row = jnp.linalg.norm(a.T @ (y / _nonzero(jnp.linalg.norm(y))))
    return max_abs * jnp.where(column_sums[i] > row_sums[j], by_column, by_row)


def _nonzero(x: jax.Array) -> jax.Array:
    return jnp.where(x > 0, x, 1)


def precondition(factors: tuple[jax.Array, ...], g: jax.Array) -> jax.Array:
    """P g = QᵀQ g = g ×₁ Q₁ᵀQ₁ ⋯ ×_k Q_kᵀQ_k (for a leaf already viewed with ≥ 1 axis)."""
    for axis, q in enumerate(factors):
        g = _along(_along(g, q, axis), q.T, axis)
    return g


def update_factors(
    factors: tuple[jax.Array, ...], h: jax.Array, v: jax.Array, step: Any
) -> tuple[jax.Array, ...]:
    """One Lie-group step of every factor towards E[P h hᵀ P] = E[v vᵀ] (module docstring)."""
    a, b = h, v
    for axis, q in enumerate(factors):
        a = _along(a, q, axis)
        b = _solve_transposed_along(b, q, axis)
    tiny = jnp.finfo(h.dtype).tiny
    new = []
    for axis, q in enumerate(factors):
        triangular = q.ndim == 2
        term1, term2 = _gram(a, axis, triangular), _gram(b, axis, triangular)
        change = (term1 - term2) * step
        if triangular:
            change = jnp.triu(change) / (norm_lower_bound(term1 + term2) + tiny)
            new.append(q - change @ q)
        else:
            new.append(q - change * q / (jnp.max(jnp.abs(term1 + term2)) + tiny))
    return tuple(new)


def balance(factors: tuple[jax.Array, ...], do: Any = True) -> tuple[jax.Array, ...]:
    """The factors rescaled to a common max-abs norm, their geometric mean (Q unchanged), where
    ``do`` holds; as they are (multiplied by 1) where not."""
    if len(factors) < 2:
        return factors
    norms = jnp.stack([jnp.max(jnp.abs(q)) for q in factors])
    mean = jnp.prod(norms) ** (1.0 / len(factors))
    return tuple(
        q * jnp.where(do, mean / norm, 1).astype(q.dtype)
        for q, norm in zip(factors, norms, strict=True)
    )


# The draws ------------------------------------------------------------------------------------


def preconditioner_draws(
    key: jax.Array, count: jax.Array, leaves: list[jax.Array]
) -> tuple[jax.Array, jax.Array, list[jax.Array]]:
    """(U_update, U_balance, [V per leaf]) of the step whose 0-based count is ``count``.

    U_update ~ U(0, 1) is the coin of the "random" rule, U_balance the balance coin (used on
    updates only, below 0.01), V ~ N(0, I) one per leaf of ``leaves``, shaped and typed like it.
    psgd-jax's derivation (module docstring), so its draws for the same key and count.
    """
    step_key, update_key = jax.random.split(jax.random.fold_in(key, count))
    update_key, balance_key = jax.random.split(update_key)
    _, v_key = jax.random.split(update_key)
    keys = jax.random.split(v_key, len(leaves)) if leaves else []
    vs = [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)]
    return jax.random.uniform(step_key), jax.random.uniform(balance_key), vs


# The transformation ---------------------------------------------------------------------------


def _check_probability(value: Any) -> None:
    if callable(value):
        return
    number = _concrete("preconditioner_update_probability", value)
    if number is not None and not 0.0 <= number <= 1.0:
        raise ValueError(
            f"preconditioner_update_probability={number!r} is invalid: it must lie in [0, 1] "
            "(or be a function of the 1-based step, such as precond_update_prob_schedule())."
        )


def scale_by_kron(
    b1: float = 0.9,
    preconditioner_update_probability: float | Callable[[jax.Array], Any] | None = None,
    max_size_triangular: int | None = None,
    min_ndim_triangular: int | None = None,
    memory_save_mode: str | None = None,
    momentum_into_precond_update: bool = True,
    preconditioner_lr: float = 0.1,
    preconditioner_init_scale: float = 1.0,
    precond_damping: float = PRECOND_DAMPING,
    preconditioner_update_rule: str = "counter",
    seed: int = SEED,
    mu_dtype: Any = None,
    precond_dtype: Any = None,
) -> optax.GradientTransformation:
    """The clipped PSGD Kron direction u = P m̂ / max(1, RMS(P m̂)/1.1), fitting Q on the way.

    The arguments are ``kron``'s.
    """
    if preconditioner_update_probability is None:
        preconditioner_update_probability = precond_update_prob_schedule()
    if max_size_triangular is None:
        max_size_triangular = MAX_SIZE_TRIANGULAR
    if min_ndim_triangular is None:
        min_ndim_triangular = MIN_NDIM_TRIANGULAR
    check_unit_interval("b1", b1)
    _check_probability(preconditioner_update_probability)
    check_integer("max_size_triangular", max_size_triangular, minimum=0)
    check_integer("min_ndim_triangular", min_ndim_triangular, minimum=0)
    if memory_save_mode is not None:
        check_choice("memory_save_mode", memory_save_mode, MEMORY_SAVE_MODES)
    if not isinstance(momentum_into_precond_update, bool):
        raise ValueError(
            f"momentum_into_precond_update={momentum_into_precond_update!r} is invalid: it must "
            "be True or False."
        )
    lr = _concrete("preconditioner_lr", preconditioner_lr)
    if lr is not None and not 0.0 <= lr <= 1.0:
        raise ValueError(
            f"preconditioner_lr={lr!r} is invalid: it must lie in [0, 1] (a normalised step)."
        )
    scale = _concrete("preconditioner_init_scale", preconditioner_init_scale)
    if scale is not None and not (math.isfinite(scale) and scale > 0.0):
        raise ValueError(
            f"preconditioner_init_scale={scale!r} is invalid: it must be a finite number > 0."
        )
    check_non_negative("precond_damping", precond_damping)
    check_choice("preconditioner_update_rule", preconditioner_update_rule, UPDATE_RULES)
    check_integer("seed", seed, minimum=0)
    number = _concrete("seed", seed)
    if number is not None and number >= 2**32:
        raise ValueError(f"seed={seed!r} is invalid: it must be an integer below 2**32.")
    check_float_dtype("mu_dtype", mu_dtype)
    check_float_dtype("precond_dtype", precond_dtype)

    def kinds(leaf):
        # The factors' shapes are decided here, once: update_fn reads them off the state.
        for name, value in (
            ("max_size_triangular", max_size_triangular),
            ("min_ndim_triangular", min_ndim_triangular),
        ):
            if isinstance(value, jax.core.Tracer):
                raise ValueError(
                    f"{name} decides the shapes of the preconditioner's factors, so init needs "
                    "it as a number, not a traced array: under optax.inject_hyperparams with a "
                    f"traced init, pass static_args=('max_size_triangular', "
                    "'min_ndim_triangular'), or inject the learning rate alone."
                )
        return factor_kinds(leaf.shape, max_size_triangular, min_ndim_triangular, memory_save_mode)

    def init_fn(params):
        check_float_params(params)
        leaves = jax.tree.leaves(params)
        factors = [
            init_factors(p.shape, kinds(p), preconditioner_init_scale, precond_dtype or p.dtype)
            for p in leaves
        ]
        mu = jax.tree.map(lambda p: jnp.zeros(p.shape, mu_dtype or p.dtype), params)
        return ScaleByKronState(
            count=jnp.zeros([], jnp.int32),
            update_counter=jnp.zeros([], jnp.int32),
            seed=jnp.asarray(seed, jnp.uint32),
            mu=mu,
            preconditioners=tuple(factors),
        )

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        grads, structure = jax.tree.flatten(updates)
        mus = structure.flatten_up_to(state.mu)
        all_factors = state.preconditioners
        dtypes = [
            jnp.promote_types(jnp.promote_types(g.dtype, q[0].dtype), jnp.float32)
            for g, q in zip(grads, all_factors, strict=True)
        ]
        # A 0-d leaf is viewed as shape (1,), its one diagonal factor's shape.
        gs = [g.astype(d).reshape(g.shape or (1,)) for g, d in zip(grads, dtypes, strict=True)]
        factors = [
            tuple(q.astype(d) for q in qs) for qs, d in zip(all_factors, dtypes, strict=True)
        ]

        correction = bias_correction(b1, count)
        new_mus = [
            (1 - b1) * g + b1 * m.astype(g.dtype).reshape(g.shape)
            for g, m in zip(gs, mus, strict=True)
        ]
        mhats = [m / correction.astype(m.dtype) for m in new_mus]

        probability = preconditioner_update_probability
        if callable(probability):
            probability = probability(count)
        u_update, u_balance, vs = preconditioner_draws(jax.random.key(state.seed), state.count, gs)
        counter = optax.safe_increment(state.update_counter)
        if preconditioner_update_rule == "counter":
            do_update = counter >= 1 / jnp.asarray(probability, jnp.result_type(float))
        else:
            do_update = u_update < probability
        counter = jnp.where(do_update, 0, counter)

        def fit(operands):
            factors, targets, vs, u_balance, damping, step = operands
            factors = [balance(qs, u_balance < BALANCE_PROBABILITY) for qs in factors]
            new = []
            for qs, h, v in zip(factors, targets, vs, strict=True):
                damped = h + damping * jnp.mean(jnp.abs(h)) * v
                new.append(update_factors(qs, damped, v, step))
            return new

        def keep(operands):
            return operands[0]

        # Everything the fit reads is an operand (injected hyperparameters too): under vmap the
        # switch gates the fit on "some lane fits now" instead of computing it at every step.
        targets = mhats if momentum_into_precond_update else gs
        operands = ([tuple(qs) for qs in factors], targets, vs, u_balance)
        operands += (jnp.asarray(precond_damping), jnp.asarray(preconditioner_lr))
        factors = switch_per_lane((fit, keep))(jnp.where(do_update, 0, 1), operands)

        def clipped(u):
            return u / jnp.maximum(1.0, jnp.sqrt(jnp.mean(u * u)) / CLIP_RMS)

        directions = [
            clipped(precondition(qs, m)).reshape(g.shape).astype(g.dtype)
            for qs, m, g in zip(factors, mhats, grads, strict=True)
        ]
        stored_mus = [
            m.reshape(old.shape).astype(old.dtype) for m, old in zip(new_mus, mus, strict=True)
        ]
        stored_factors = [
            tuple(q.astype(old.dtype) for q, old in zip(qs, olds, strict=True))
            for qs, olds in zip(factors, all_factors, strict=True)
        ]
        new_state = ScaleByKronState(
            count=count,
            update_counter=counter,
            seed=state.seed,
            mu=structure.unflatten(stored_mus),
            preconditioners=tuple(stored_factors),
        )
        return structure.unflatten(directions), new_state

    # Jitted once per built transformation: called eagerly, the fit's cond would otherwise be
    # compiled anew at every step (its branches are new closures; 0.6 s a step on 2 CPU cores).
    # Inside a caller's jit it is inlined.
    return optax.GradientTransformation(init_fn, jax.jit(update_fn))


def kron(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    weight_decay: float = 0.0,
    weight_decay_mask: Any = None,
    preconditioner_update_probability: float | Callable[[jax.Array], Any] | None = None,
    max_size_triangular: int | None = None,
    min_ndim_triangular: int | None = None,
    memory_save_mode: str | None = None,
    momentum_into_precond_update: bool = True,
    preconditioner_lr: float = 0.1,
    preconditioner_init_scale: float = 1.0,
    precond_damping: float = PRECOND_DAMPING,
    preconditioner_update_rule: str = "counter",
    seed: int = SEED,
    mu_dtype: Any = None,
    precond_dtype: Any = None,
) -> optax.GradientTransformation:
    """PSGD Kron: θ ← θ − η (u + λθ), u = P m̂ clipped to RMS 1.1, P = QᵀQ fitted as it goes.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-3, psgd-jax's;
        its README: Adam's rate or about half of it).
      b1: the momentum β in [0, 1) (default 0.9); m is bias-corrected.
      weight_decay: λ ≥ 0, decoupled and multiplied by η (default 0).
      weight_decay_mask: which leaves decay: None (default) for all of them, else a pytree of
        bools shaped like (or a prefix of) the params, or a function of the params returning
        one (``optax.masked``; under ``optax.inject_hyperparams`` pass a function through
        ``static_args=("weight_decay_mask",)``).
      preconditioner_update_probability: p in [0, 1], or a function of the 1-based step; None
        (default) is ``precond_update_prob_schedule()``: 1 for 500 steps, then down to 0.03.
      max_size_triangular: an axis longer than this gets a diagonal factor; None (default) is
        8192, psgd-jax's (None rather than the number: ``optax.inject_hyperparams`` turns every
        numeric default into an array, and the factors' shapes need a Python integer).
      min_ndim_triangular: a leaf with fewer axes than this gets only diagonal factors; None
        (default) is 2, psgd-jax's, so that biases get diagonal ones.
      memory_save_mode: None (default: triangular wherever the two above allow), "one_diag"
        (the largest axis of each leaf diagonal) or "all_diag".
      momentum_into_precond_update: fit Q to m̂ (default True) rather than to g.
      preconditioner_lr: η_Q in [0, 1], the normalised step of the fit (default 0.1).
      preconditioner_init_scale: Q₀ = scale · I, a number > 0 (default 1).
      precond_damping: δ ≥ 0 in H = m̂ + δ·mean|m̂|·V (default √ε of float32 ≈ 3.45e-4, as
        psgd-jax; 0 for pytorch-optimizer's undamped fit).
      preconditioner_update_rule: "counter" (default: every ⌈1/p⌉ steps, as both references)
        or "random" (a coin of probability p each step, as Li's psgd_torch).
      seed: the integer in [0, 2³²) the PRNG key is made from (default 5318008, psgd-jax's).
      mu_dtype, precond_dtype: the dtypes m and Q are stored in; None (default) is each
        parameter's dtype.
    """
    decay = add_decayed_weights(weight_decay)
    if weight_decay_mask is not None:
        decay = optax.masked(decay, weight_decay_mask)
    return optax.chain(
        scale_by_kron(
            b1,
            preconditioner_update_probability,
            max_size_triangular,
            min_ndim_triangular,
            memory_save_mode,
            momentum_into_precond_update,
            preconditioner_lr,
            preconditioner_init_scale,
            precond_damping,
            preconditioner_update_rule,
            seed,
            mu_dtype,
            precond_dtype,
        ),
        decay,
        scale_by_learning_rate(learning_rate),
    )

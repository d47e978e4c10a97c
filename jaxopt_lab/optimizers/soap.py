"""SOAP: Adam run in the eigenbasis of Shampoo's preconditioner.

For a leaf G of shape n₁ × … × n_k (a matrix: L = G Gᵀ, R = Gᵀ G), every preconditioned
dimension i keeps a statistic and an orthonormal basis; with c the 0-based step count:

    S_i ← β_s S_i + (1 − β_s) G₍ᵢ₎ G₍ᵢ₎ᵀ     (G₍ᵢ₎: G unfolded along i, an n_i × (rest) matrix)
    G′ = G ×₁ Q₁ᵀ ⋯ ×_k Q_kᵀ                 (a matrix: Q_Lᵀ G Q_R, the rotated gradient)
    m ← β₁ m + (1 − β₁) G′,  v ← β₂ v + (1 − β₂) G′²      (both kept in the rotated space)
    N = (m / (√v + ε)) ×₁ Q₁ ⋯ ×_k Q_k                     (back to the parameters' space)
    θ ← (θ − η √(1 − β₂ᶜ)/(1 − β₁ᶜ) N)(1 − η λ)

The first step (c = 0) only accumulates S_i and sets Q_i from a full eigendecomposition
(``eigh``, eigenvalues descending); θ, m and v do not move. After step c, when c > 0 and
c is a multiple of f = ``precondition_frequency``, each Q_i is refreshed by one power iteration
and a QR step: sort Q_i's columns by their Rayleigh quotients diag(Q_iᵀ S_i Q_i), descending
(v reordered alike along i), Q_i ← qr(S_i Q_i); m is carried into the new bases (rotated back
with the old ones, forward with the new). The statistics always take the current gradient
*after* the step, so a gradient never enters the basis that preconditions it.

Reference: Vyas et al. (2024), "SOAP: Improving and stabilizing Shampoo using Adam",
arXiv:2409.11321, and the authors' code (github.com/nikhilvyas/SOAP, ``soap.py``).

Which dimensions are preconditioned (as the authors' code decides): every dimension of size
≤ ``max_precondition_dim`` of a leaf with ≥ 2 dimensions (others keep Q = I: one-sided
preconditioning); a vector only with ``precondition_1d`` (then an n × n statistic); a scalar
never. With ``merge_dims``, consecutive dimensions are merged while their product stays
≤ ``max_precondition_dim``, in the leaf's own axis order. So, at the defaults:

- a Dense kernel [784, 128]: L 784 × 784 and R 128 × 128 (two-sided);
- a bias [128]: no rotation, which makes it Adam(W) with SOAP's first-step skip and bias
  correction (``precondition_1d=True``: one 128 × 128 statistic);
- a Flax convolution kernel [3, 3, 1, 32] (h, w, in, out): four statistics 3 × 3, 3 × 3, 1 × 1
  and 32 × 32; with ``merge_dims`` one 288 × 288 (3·3·1·32 ≤ 10000).

Conventions. The authors' code, which ``pytorch_optimizer.SOAP`` (4.1.0) reimplements; the
two give the same θ in exact arithmetic except where stated (all checked in float64 in
``tests/optimizers/test_soap.py``):

- The first moment lives in the rotated space and is carried into each new basis, as the
  authors do (they project it back and forth at every step, the identity up to rounding
  between refreshes, so here only at a refresh); the package keeps m in the parameters' space
  and rotates it at every step, the same quantity.
- Weight decay is decoupled, multiplied by η, and applied to the parameter *after* the
  step, θ ← (θ − η s N)(1 − ηλ) (authors and package alike), which differs from AdamW's
  θ − η(s N + λθ) by η²λ s N; there is no decay on the first step.
- The package computes its refresh QR in float32 whatever the parameters' dtype (the authors
  compute eigh and QR in float32 for any dtype but float32 itself); here both run in the
  parameters' dtype, promoted to float32 at least (bfloat16 and float16 leaves keep their
  statistics and bases in float32).
- ``merge_dims``: the authors' merge, which keeps a tensor that merges whole; the package's
  ``merge_small_dims`` turns a tensor that merges into one dimension into shape [1] (its
  reshape then fails) and may insert a dimension of size 1. No ``data_format``: the authors'
  ``channels_last`` only permutes a 4-D tensor before merging; a Flax kernel (h, w, in, out)
  merges in its own order.
- ``normalize_gradient`` divides N by 1e-30 + √mean(N²) (the authors'), the package by
  √mean(N²) + ε.
- Eigenvectors are defined up to sign and, for equal eigenvalues, up to a rotation: θ does not
  depend on the signs, but a statistic whose first gradient leaves a null space of dimension ≥ 2
  (a 6 × 4 kernel: L is 6 × 6 of rank 4; a vector of length ≥ 3 with ``precondition_1d``:
  g gᵀ has rank 1) takes whatever basis of it the ``eigh`` implementation returns, so
  implementations agree there only up to that choice.

Sensitivity. The first step does not move θ, so with full-batch (deterministic) gradients
the second gradient equals the first, and its rotated entries along the null space of the
first G Gᵀ (an m × n kernel with m > n: m − n of them) are rounding, ~1e-7 |G| in float32.
m/(√v + ε) turns such an entry into ±(1 − β₁)/√(1 − β₂) when it exceeds ε (1e-8), so that
step's direction there follows the rounding: two float32 runs whose gradients differ by one
ulp (a mean taken as a + (b − a)/2 or as (a + b)/2, e.g. by ``optax.MultiSteps``) part by
up to ~η in θ after two steps (4e-4 and 1.4e-2 for two 4 × 3 kernels at η = 1e-2). The
authors' code does the same; with minibatch gradients the entries are not rounding, and a
larger ε damps it (ε = 1e-3: 1e-7 and 3e-6).

Cost. Per m × n matrix the state holds m, v (mn each), two statistics (m², n²) and two bases
(m², n²): for [784, 128], 2·100,352 + 2·(614,656 + 16,384) = 1,462,784 numbers, 14.6 per
parameter (Adam: 2). A step adds four products of G with the bases and two Gram products,
O(mn(m + n)); the refresh every f steps and the first step's ``eigh`` are O(m³ + n³). The
refresh is a switch on the step count inside the compiled step, which computes only the
branch it takes. Under ``jax.vmap`` (the engine's sweep over learning rates batches the count)
``lax.switch`` would become a select, every lane computing an ``eigh`` and a QR of every
statistic at every step (a 784 × 128 kernel on 2 CPU cores: 164 ms a step for 2 lanes against
12–19 ms for one); ``switch_per_lane`` keeps them behind a cond on "some lane takes them"
(23 ms). The first step's ``eigh`` of 784 × 784 takes about 0.15 s on CPU (float32), the QR
of the refresh about 0.3 s, every f steps.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    check_float_params,
    check_integer,
    check_non_negative,
    check_unit_interval,
    learning_rate_at,
    scale_by_learning_rate,
    zeros_like,
)
from jaxopt_lab.optimizers._lanes import switch_per_lane

# Added to a statistic before eigh, as the authors do (a zero statistic gets a basis too).
EIGH_JITTER = 1e-30


class ScaleBySoapState(NamedTuple):
    """The step count, the moments m (``mu``) and v (``nu``), both in the rotated space and
    shaped like the parameters, and per leaf, in ``jax.tree.leaves`` order, a tuple with one
    statistic S_i (``statistics``) and one basis Q_i (``bases``) per dimension of
    ``preconditioned_shape``, None where that dimension is not preconditioned. (Tuples in leaf
    order, as Kron's factors, not trees shaped like the parameters: ``flax.nnx.Optimizer``
    wraps each parameter-shaped subtree in a variable, which a tuple of matrices is not.)"""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates
    statistics: Any
    bases: Any


def merge_small_dims(shape: tuple[int, ...], max_precondition_dim: int) -> tuple[int, ...]:
    """The authors' ``merge_dims``: consecutive dimensions multiplied together while the product
    stays ≤ ``max_precondition_dim``; a larger dimension stays alone. (3, 3, 2, 4) with 9 gives
    (9, 8)."""
    merged: list[int] = []
    current = 1
    for size in shape:
        if current * size > max_precondition_dim:
            if current > 1:
                merged.append(current)
                current = size
            else:
                merged.append(size)
        else:
            current *= size
    if current > 1 or not merged:
        merged.append(current)
    return tuple(merged)


def preconditioned_shape(
    shape: tuple[int, ...],
    max_precondition_dim: int = 10000,
    merge_dims: bool = False,
    precondition_1d: bool = False,
) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """The shape SOAP sees a leaf as, and which of its dimensions get a statistic and a basis
    (see the module docstring)."""
    if len(shape) == 0:
        return (), ()
    if len(shape) == 1:
        return tuple(shape), (precondition_1d and shape[0] <= max_precondition_dim,)
    if merge_dims:
        shape = merge_small_dims(shape, max_precondition_dim)
    return tuple(shape), tuple(size <= max_precondition_dim for size in shape)


def _compute_dtype(dtype: Any) -> Any:
    """Statistics, bases and the step's arithmetic: the leaf's dtype, float32 at least."""
    return jnp.promote_types(dtype, jnp.float32)


def _rotate(x: jax.Array, bases: tuple, back: bool = False) -> jax.Array:
    """x ×ᵢ Q_iᵀ for every basis (into the eigenbasis), or x ×ᵢ Q_i with ``back``."""
    for axis, basis in enumerate(bases):
        if basis is not None:
            x = jnp.moveaxis(jnp.tensordot(x, basis, axes=(axis, 1 if back else 0)), -1, axis)
    return x


def _gram(g: jax.Array, axis: int) -> jax.Array:
    """G₍ᵢ₎ G₍ᵢ₎ᵀ: g contracted with itself over every axis but ``axis``."""
    others = [a for a in range(g.ndim) if a != axis]
    return jnp.tensordot(g, g, axes=(others, others))


def _eigenbasis(statistic: jax.Array) -> jax.Array:
    """The eigenvectors of a symmetric statistic, by eigenvalue descending."""
    jitter = EIGH_JITTER * jnp.eye(statistic.shape[0], dtype=statistic.dtype)
    return jnp.linalg.eigh(statistic + jitter)[1][:, ::-1]


def _power_iteration(statistics: tuple, bases: tuple, mu: jax.Array, nu: jax.Array):
    """The refresh: one power iteration and QR per basis, v reordered and m carried along."""
    original = _rotate(mu, bases, back=True)
    new_bases = []
    for axis, (statistic, basis) in enumerate(zip(statistics, bases, strict=True)):
        if basis is None:
            new_bases.append(None)
            continue
        rayleigh = jnp.sum(basis * (statistic @ basis), axis=0)
        order = jnp.argsort(-rayleigh)
        nu = jnp.take(nu, order, axis=axis)
        new_bases.append(jnp.linalg.qr(statistic @ basis[:, order])[0])
    new_bases = tuple(new_bases)
    return new_bases, _rotate(original, new_bases), nu


def scale_by_soap(
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float | None = None,
    eps: float = 1e-8,
    precondition_frequency: int = 10,
    max_precondition_dim: int = 10000,
    merge_dims: bool = False,
    precondition_1d: bool = False,
    correct_bias: bool = True,
    normalize_gradient: bool = False,
) -> optax.GradientTransformation:
    """The SOAP direction s N, s = √(1 − β₂ᶜ)/(1 − β₁ᶜ) (1 without ``correct_bias``); zero on
    the first step, which only starts the statistics (see the module docstring)."""
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    if shampoo_beta is not None:
        check_unit_interval("shampoo_beta", shampoo_beta)
    check_non_negative("eps", eps)
    check_integer("precondition_frequency", precondition_frequency, minimum=1)
    check_integer("max_precondition_dim", max_precondition_dim, minimum=1)
    for name, flag in [
        ("merge_dims", merge_dims),
        ("precondition_1d", precondition_1d),
        ("correct_bias", correct_bias),
        ("normalize_gradient", normalize_gradient),
    ]:
        if not isinstance(flag, bool):
            raise ValueError(f"{name}={flag!r} is invalid: it must be True or False.")
    beta_s = b2 if shampoo_beta is None else shampoo_beta

    def layout(shape):
        if isinstance(max_precondition_dim, jax.core.Tracer):
            raise ValueError(
                "max_precondition_dim decides the shapes of SOAP's state (and, with merge_dims, "
                "of its step), so it cannot be a traced array there: keep it a Python integer, "
                "e.g. optax.inject_hyperparams(soap, static_args=('max_precondition_dim',))."
            )
        return preconditioned_shape(
            tuple(shape), int(max_precondition_dim), merge_dims, precondition_1d
        )

    def init_leaf(p):
        shape, preconditioned = layout(p.shape)
        dtype = _compute_dtype(p.dtype)
        statistics = tuple(
            jnp.zeros((n, n), dtype) if take else None
            for n, take in zip(shape, preconditioned, strict=True)
        )
        bases = tuple(
            jnp.eye(n, dtype=dtype) if take else None
            for n, take in zip(shape, preconditioned, strict=True)
        )
        return statistics, bases

    def init_fn(params):
        check_float_params(params)
        pairs = [init_leaf(p) for p in jax.tree.leaves(params)]
        return ScaleBySoapState(
            count=jnp.zeros([], jnp.int32),
            mu=zeros_like(params),
            nu=zeros_like(params),
            statistics=tuple(s for s, _ in pairs),
            bases=tuple(b for _, b in pairs),
        )

    def update_leaf(g, mu, nu, statistics, bases, count):
        # Which dimensions are preconditioned is in the state (None or not); only a merge needs
        # max_precondition_dim again, so without one it may be injected (traced) as well.
        shape = layout(g.shape)[0] if merge_dims and g.ndim > 1 else g.shape
        dtype = _compute_dtype(g.dtype)
        first = count == 0
        grad = g.astype(dtype).reshape(shape)
        m = mu.astype(dtype).reshape(shape)
        v = nu.astype(dtype).reshape(shape)

        # The step, in the bases built from the gradients before this one.
        rotated = _rotate(grad, bases)
        m = jnp.where(first, m, b1 * m + (1 - b1) * rotated)
        v = jnp.where(first, v, b2 * v + (1 - b2) * rotated**2)
        direction = _rotate(m / (jnp.sqrt(v) + eps), bases, back=True)
        if normalize_gradient:
            direction = direction / (1e-30 + jnp.sqrt(jnp.mean(direction**2)))
        if correct_bias:
            step = jnp.maximum(count, 1)  # the first step's direction is discarded
            scale = jnp.sqrt(bias_correction(b2, step)) / bias_correction(b1, step)
            direction = scale.astype(dtype) * direction
        direction = jnp.where(first, 0.0, direction)

        # Then the statistics take this gradient, and the bases follow at c = 0 or c ≡ 0 mod f.
        statistics = tuple(
            None if s is None else beta_s * s + (1 - beta_s) * _gram(grad, axis)
            for axis, s in enumerate(statistics)
        )

        def first_bases(operands):
            statistics, _, m, v = operands
            eigen = tuple(None if s is None else _eigenbasis(s) for s in statistics)
            return eigen, m, v

        def refreshed_bases(operands):
            return _power_iteration(*operands)

        def same_bases(operands):
            _, bases, m, v = operands
            return bases, m, v

        branch = jnp.where(
            first, 0, jnp.where(jnp.remainder(count, precondition_frequency) == 0, 1, 2)
        )
        bases, m, v = switch_per_lane((first_bases, refreshed_bases, same_bases))(
            branch, (statistics, bases, m, v)
        )
        return (
            direction.reshape(g.shape).astype(g.dtype),
            m.reshape(g.shape).astype(mu.dtype),
            v.reshape(g.shape).astype(nu.dtype),
            statistics,
            bases,
        )

    def update_fn(updates, state, params=None):
        del params
        leaves, treedef = jax.tree.flatten(updates)
        results = [
            update_leaf(g, mu, nu, statistics, bases, state.count)
            for g, mu, nu, statistics, bases in zip(
                leaves,
                treedef.flatten_up_to(state.mu),
                treedef.flatten_up_to(state.nu),
                state.statistics,
                state.bases,
                strict=True,
            )
        ]
        directions, mu, nu = (treedef.unflatten([r[i] for r in results]) for i in range(3))
        statistics, bases = (tuple(r[i] for r in results) for i in (3, 4))
        count = optax.safe_increment(state.count)
        return directions, ScaleBySoapState(count, mu, nu, statistics, bases)

    # Jitted once per built transformation: called eagerly, the refresh's cond would otherwise
    # be compiled anew at every step (its branches are new closures). Inlined inside a jit.
    return optax.GradientTransformation(init_fn, jax.jit(update_fn))


class DecayAfterStepState(NamedTuple):
    """The step count (the decay skips the first step and follows a schedule's η)."""

    count: jax.Array


def decay_after_step(
    weight_decay: float, learning_rate: ScalarOrSchedule
) -> optax.GradientTransformation:
    """u ↦ u − η λ (θ + u) from the second step on: θ + u is decayed, θ ← (θ + u)(1 − ηλ).

    Placed after ``scale_by_learning_rate`` (u = −η s N), this is the authors' decay of the
    updated parameter; the first step (SOAP's, which does not move θ) is not decayed.
    """
    check_non_negative("weight_decay", weight_decay)

    def init_fn(params):
        check_float_params(params)
        return DecayAfterStepState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("soap's weight decay needs the parameters: call update(g, s, params).")
        rate = learning_rate_at(learning_rate, state.count) * weight_decay
        rate = jnp.where(state.count == 0, 0.0, rate)

        def decay(u, p):
            return (u - rate * (p + u)).astype(u.dtype)

        new_updates = jax.tree.map(decay, updates, params)
        return new_updates, DecayAfterStepState(optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def soap(
    learning_rate: ScalarOrSchedule = 3e-3,
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float | None = None,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    precondition_frequency: int = 10,
    max_precondition_dim: int = 10000,
    merge_dims: bool = False,
    precondition_1d: bool = False,
    correct_bias: bool = True,
    normalize_gradient: bool = False,
) -> optax.GradientTransformation:
    """SOAP: θ ← (θ − η s N)(1 − η λ), N Adam's step in Shampoo's eigenbasis, rotated back.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 3e-3).
      b1: β₁ in [0, 1), Adam's first-moment decay (default 0.95).
      b2: β₂ in [0, 1), Adam's second-moment decay (default 0.95).
      shampoo_beta: β_s in [0, 1), the decay of the statistics S_i; None (default) is β₂.
      eps: ε ≥ 0, added to √v (default 1e-8).
      weight_decay: λ ≥ 0, decoupled, × η, applied after the step (default 1e-2).
      precondition_frequency: f, an integer ≥ 1: the bases are refreshed after every step c
        with c ≡ 0 mod f, c > 0 (default 10).
      max_precondition_dim: dimensions larger than this keep Q = I (default 10000).
      merge_dims: merge consecutive small dimensions first (default False).
      precondition_1d: give vectors an n × n statistic too (default False: Adam for them).
      correct_bias: s = √(1 − β₂ᶜ)/(1 − β₁ᶜ), else s = 1 (default True).
      normalize_gradient: divide N by its root mean square (default False).
    """
    direction = scale_by_soap(
        b1,
        b2,
        shampoo_beta,
        eps,
        precondition_frequency,
        max_precondition_dim,
        merge_dims,
        precondition_1d,
        correct_bias,
        normalize_gradient,
    )
    return optax.chain(
        direction,
        scale_by_learning_rate(learning_rate),
        decay_after_step(weight_decay, learning_rate),
    )


def state_size(shape: tuple[int, ...], **layout: Any) -> int:
    """The numbers SOAP stores for a leaf of ``shape``: m, v, and a statistic and a basis of
    n_i² each per preconditioned dimension (``layout``: ``preconditioned_shape``'s options)."""
    merged, preconditioned = preconditioned_shape(tuple(shape), **layout)
    matrices = sum(2 * n * n for n, take in zip(merged, preconditioned, strict=True) if take)
    return 2 * math.prod(shape) + matrices

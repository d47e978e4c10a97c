"""PSGD Kron against psgd-jax, pytorch-optimizer and a literal NumPy rule, in float64.

The trajectories run on one pytree of a 6 × 4 matrix (two triangular factors), a vector (5,)
(one diagonal factor), a 4-D kernel 3 × 3 × 2 × 4 (four triangular factors), a 10 × 3 matrix
with ``max_size_triangular=8`` (its 10-axis diagonal, its 3-axis triangular) and a scalar, with
gradients ∇L = tanh(θ − c) + 0.2 θ³ computed in NumPy at the current parameters and handed
alike to each side (as in ``test_references.py``), for ``STEPS`` = 100 steps.

What is compared exactly, and how the randomness is shared:

- psgd-jax 0.2.9 (``psgd_jax.kron.kron``): it draws V and the balance coin from
  ``fold_in(PRNGKey(5318008), count)``, the derivation and seed this library uses by default,
  so both take the same draws without any patching. Agreement: at most 6e-16 apart over 100
  steps (asserted: rtol 1e-9, atol 1e-12, and max |Δθ| < 1e-13), and the factors of Q at the
  end to rtol 1e-9; also with "one_diag", a decaying schedule (updates skipped), the fit on g,
  β = 0.8, η_Q = 0.2, Q₀ = 2I, decay on every leaf, and with "all_diag", β = 0, p = 0.5.
  psgd-jax 0.2.9 imports ``optax._src.clipping``, which optax ≥ 0.2.6 moved; the test aliases
  it to ``optax.transforms._clipping`` (only the import is needed).
- pytorch-optimizer 4.1.0 (``pytorch_optimizer.Kron``): it draws V with ``torch.randn_like``
  and the balance coin with ``np.random.random``; the test replaces both by this library's
  draws (``preconditioner_draws``), runs its triangular solves in float64 (it casts them to
  float32) and compares with ``precond_damping=0`` (it does not damp) and the decay masked to
  leaves with ≥ 2 axes (it decays no others): at most 8e-16 apart once its clip
  u · min(1, 1.1/(RMS + 1e-6)) is given the RMS without the 1e-6, and 3e-8 apart with it
  (only the kernel, where the clip acts). Without the damping the paths part visibly.
- The NumPy rule (``reference_kron`` in tests/reference.py: Q as the dense Kronecker product,
  the draws taken from ``jax.random`` by the same derivation, written out again) agrees to
  rtol 1e-9 on every configuration, including a seed whose balance coin fires, and is the
  conformance kit's reference (test_properties.py).

What is compared only in distribution: the "random" update rule's coin (Li's psgd_torch uses
``torch.rand``); here the steps it updates Q are checked to be exactly those whose draw falls
below p, and their number to lie within the binomial's 4σ.
"""

from __future__ import annotations

import functools
import importlib
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab.optimizers.kron import (
    SEED,
    balance,
    factor_kinds,
    kron,
    norm_lower_bound,
    precond_update_prob_schedule,
    precondition,
    preconditioner_draws,
    scale_by_kron,
)
from tests.optimizers.lanes import eager_compilations, unguarded
from tests.reference import reference_kron_tree

STEPS = 100
RTOL, ATOL = 1e-9, 1e-12
PSGD_JAX_REASON = "needs psgd-jax==0.2.9 (pip install psgd-jax)"
TORCH_REASON = "needs pytorch-optimizer==4.1.0 and torch (pip install 'jaxopt_lab[torch]')"

SHAPES = {"matrix": (6, 4), "vector": (5,), "kernel": (3, 3, 2, 4), "wide": (10, 3), "scalar": ()}
_rng = np.random.default_rng(25)
START = {name: _rng.normal(size=shape) for name, shape in SHAPES.items()}
TARGET = {name: _rng.normal(size=shape) for name, shape in SHAPES.items()}


def _grad(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∇L(θ) of L = Σ log cosh(θ − c) + 0.05 Σ θ⁴, leaf by leaf, in NumPy float64."""
    return {name: np.tanh(p - TARGET[name]) + 0.2 * p**3 for name, p in params.items()}


def _two_or_more_axes(params):
    return jax.tree.map(lambda p: p.ndim >= 2, params)


# Config A: the defaults but η, λ (on leaves with ≥ 2 axes, as pytorch-optimizer) and a small
# max_size_triangular; B and C: the other options, on every leaf of a smaller tree.
CONFIG_A = {
    "learning_rate": 0.01,
    "weight_decay": 0.01,
    "max_size_triangular": 8,
}
SMALL = ("matrix", "vector", "wide")
VARIANTS = {
    "one_diag": {
        "learning_rate": 0.02,
        "b1": 0.8,
        "weight_decay": 0.02,
        "preconditioner_update_probability": precond_update_prob_schedule(
            min_prob=0.2, decay=0.2, flat_start=5
        ),
        "memory_save_mode": "one_diag",
        "momentum_into_precond_update": False,
        "preconditioner_lr": 0.2,
        "preconditioner_init_scale": 2.0,
    },
    "all_diag": {
        "learning_rate": 0.02,
        "b1": 0.0,
        "preconditioner_update_probability": 0.5,
        "memory_save_mode": "all_diag",
    },
}


def run_jax(optimizer, names=tuple(SHAPES), steps=STEPS):
    """The trajectory [θ₀, …] of an optax transformation in float64, and its final state."""
    with jax.enable_x64(True):
        params = {name: jnp.asarray(START[name]) for name in names}
        state, update = optimizer.init(params), jax.jit(optimizer.update)
        path = [{name: START[name] for name in names}]
        for _ in range(steps):
            grads = _grad({name: np.asarray(p) for name, p in params.items()})
            updates, state = update(grads, state, params)
            params = optax.apply_updates(params, updates)
            path.append({name: np.asarray(p) for name, p in params.items()})
    return path, state


def assert_paths_close(actual, expected, rtol=RTOL, atol=ATOL):
    assert len(actual) == len(expected)
    for name in actual[0]:
        a = np.stack([point[name] for point in actual])
        e = np.stack([point[name] for point in expected])
        assert not np.allclose(e[-1], e[0]), f"{name} did not move"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name)


def max_difference(actual, expected):
    return max(
        float(np.max(np.abs(a[name] - e[name])))
        for a, e in zip(actual, expected, strict=True)
        for name in a
    )


@functools.cache
def ours_a(damping=None):
    extra = {} if damping is None else {"precond_damping": damping}
    return run_jax(kron(**CONFIG_A, weight_decay_mask=_two_or_more_axes, **extra))


@functools.cache
def ours_variant(name):
    return run_jax(kron(**VARIANTS[name]), SMALL, steps=60)


# psgd-jax --------------------------------------------------------------------------------------


def _psgd_jax(monkeypatch):
    """psgd_jax.kron, importable with optax ≥ 0.2.6 (see the module docstring)."""
    try:
        importlib.import_module("optax._src.clipping")
    except ImportError:
        clipping = importlib.import_module("optax.transforms._clipping")
        monkeypatch.setitem(sys.modules, "optax._src.clipping", clipping)
    return pytest.importorskip("psgd_jax.kron", reason=PSGD_JAX_REASON)


def _psgd_jax_factors(state):
    """psgd-jax's factors per leaf, a scalar's reshaped to (1,) as here."""
    chained = state[0]
    return {
        name: [np.asarray(q).reshape(q.shape or (1,)) for q in qs]
        for name, qs in chained["Qs_preconditioners"].items()
    }


def _our_factors(state):
    factors = state[0].preconditioners  # in jax.tree.leaves order: sorted names
    return {
        name: [np.asarray(q) for q in qs] for name, qs in zip(sorted(SHAPES), factors, strict=True)
    }


def test_follows_psgd_jax_in_float64(monkeypatch):
    psgd = _psgd_jax(monkeypatch)
    ours, our_state = ours_a()
    theirs, their_state = run_jax(psgd.kron(**CONFIG_A, weight_decay_mask=_two_or_more_axes))
    assert_paths_close(ours, theirs)
    assert max_difference(ours, theirs) < 1e-13
    their_factors, our_factors = _psgd_jax_factors(their_state), _our_factors(our_state)
    kinds = {name: [q.ndim for q in qs] for name, qs in our_factors.items()}
    assert kinds == {
        "matrix": [2, 2],
        "vector": [1],
        "kernel": [2, 2, 2, 2],
        "wide": [1, 2],
        "scalar": [1],
    }
    for name, qs in their_factors.items():
        for q, expected in zip(our_factors[name], qs, strict=True):
            assert not np.allclose(expected, np.eye(*expected.shape[:1]) if q.ndim == 2 else 1)
            np.testing.assert_allclose(q, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_follow_psgd_jax(monkeypatch, variant):
    psgd = _psgd_jax(monkeypatch)
    ours, _ = ours_variant(variant)
    theirs, _ = run_jax(psgd.kron(**VARIANTS[variant]), SMALL, steps=60)
    assert_paths_close(ours, theirs)


def test_the_schedule_is_psgd_jax_s(monkeypatch):
    psgd = _psgd_jax(monkeypatch)
    steps = jnp.array([0, 1, 499, 500, 501, 1000, 3000, 4000, 5000, 10**6])
    np.testing.assert_array_equal(
        precond_update_prob_schedule()(steps), psgd.precond_update_prob_schedule()(steps)
    )
    assert float(precond_update_prob_schedule()(501)) < 1.0
    assert float(precond_update_prob_schedule()(5000)) == pytest.approx(0.03)


# pytorch-optimizer -----------------------------------------------------------------------------


def _run_pytorch_optimizer(monkeypatch, exact_clip: bool):
    """pytorch-optimizer's Kron on config A, fed this library's draws; see the module doc."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    psgd = pytest.importorskip("pytorch_optimizer.optimizer.psgd", reason=TORCH_REASON)
    torch.set_num_threads(1)
    names = sorted(SHAPES)  # jax.tree.leaves order
    draws: list = []

    def randn_like(x, dtype=None, **kwargs):
        v = draws.pop(0)
        assert v.shape == tuple(x.shape)
        return torch.tensor(v, dtype=dtype or x.dtype)

    def balance_coin():
        return draws.pop(0)

    def solve_triangular_right(x, a):  # pytorch-optimizer's, without its cast to float32
        flat = x.reshape(-1, x.size(-1))
        return torch.linalg.solve_triangular(a, flat, upper=True, left=False).reshape_as(x)

    clamp = torch.clamp

    def clamp_without_eps(x, min=None, max=None):
        # Its clip is min(1, 1.1 / (RMS + 1e-6)): give it 1.1 / RMS instead.
        return clamp(1.1 / (1.1 / x - 1e-6), max=max)

    monkeypatch.setattr(torch, "randn_like", randn_like)
    monkeypatch.setattr(np.random, "random", balance_coin)
    monkeypatch.setattr(psgd, "solve_triangular_right", solve_triangular_right)
    if exact_clip:
        monkeypatch.setattr(torch, "clamp", clamp_without_eps)
    params = {n: torch.nn.Parameter(torch.tensor(START[n], dtype=torch.float64)) for n in names}
    optimizer = psgd.Kron(
        [params[n] for n in names],
        lr=CONFIG_A["learning_rate"],
        weight_decay=CONFIG_A["weight_decay"],
        max_size_triangular=CONFIG_A["max_size_triangular"],
        precondition_dtype=torch.float64,
    )
    key = jax.random.key(SEED)
    path = [START]
    for step in range(STEPS):
        grads = _grad({n: p.detach().numpy() for n, p in params.items()})
        for n, p in params.items():
            p.grad = torch.tensor(grads[n])
        with jax.enable_x64(True):
            leaves = [jnp.asarray(grads[n]).reshape(grads[n].shape or (1,)) for n in names]
            _, u_balance, vs = preconditioner_draws(key, jnp.int32(step), leaves)
        draws[:] = [float(u_balance)] + [
            np.asarray(v).reshape(grads[n].shape) for v, n in zip(vs, names, strict=True)
        ]
        optimizer.step()
        assert not draws, "pytorch-optimizer took fewer draws than expected"
        path.append({n: p.detach().numpy().copy() for n, p in params.items()})
    return path


def test_follows_pytorch_optimizer_kron_in_float64(monkeypatch):
    theirs = _run_pytorch_optimizer(monkeypatch, exact_clip=True)
    ours, _ = ours_a(damping=0.0)
    assert_paths_close(ours, theirs)
    assert max_difference(ours, theirs) < 1e-13


def test_pytorch_optimizer_s_clip_and_undamped_fit_are_what_part_the_paths(monkeypatch):
    theirs = _run_pytorch_optimizer(monkeypatch, exact_clip=False)
    undamped, _ = ours_a(damping=0.0)
    damped, _ = ours_a()
    # The 1e-6 in its clip: the kernel, whose clip acts, parts by 3e-8 at most.
    assert 1e-12 < max_difference(undamped, theirs) < 1e-7
    # psgd-jax's damping δ = 2^-11.5 changes the fit, hence the path, by far more.
    assert max_difference(damped, theirs) > 1e-5


# The NumPy rule (tests/reference.py; the conformance kit runs it in test_properties.py) ---------


def test_follows_the_numpy_rule_on_config_a():
    ours, _ = ours_a()
    expected = reference_kron_tree(
        _grad,
        {name: START[name] for name in SHAPES},
        STEPS,
        decayed=("matrix", "kernel", "wide"),
        **CONFIG_A,
    )
    assert_paths_close(ours, expected)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_follow_the_numpy_rule(variant):
    ours, _ = ours_variant(variant)
    expected = reference_kron_tree(
        _grad, {name: START[name] for name in SMALL}, 60, **VARIANTS[variant]
    )
    assert_paths_close(ours, expected)


def test_a_balancing_step_follows_the_numpy_rule():
    """Seed 3 draws the balance coin below 0.01 at count 3 (float64 draws)."""
    with jax.enable_x64(True):
        assert float(preconditioner_draws(jax.random.key(3), 3, [])[1]) < 0.01
    config = {"learning_rate": 0.02, "seed": 3}
    ours, _ = run_jax(kron(**config), ("matrix", "kernel"), steps=10)
    expected = reference_kron_tree(
        _grad, {name: START[name] for name in ("matrix", "kernel")}, 10, **config
    )
    assert_paths_close(ours, expected)


# The pieces ------------------------------------------------------------------------------------


def _run_at(rate, params, grads):
    """A few steps with η alone injected, as the engine sweeps it."""
    optimizer = optax.inject_hyperparams(lambda learning_rate: kron(learning_rate))(rate)
    state = optimizer.init(params)
    for g in grads:
        updates, state = optimizer.update(g, state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_vmap_over_learning_rates_equals_separate_runs():
    params = {"w": jnp.asarray(START["matrix"], jnp.float32), "b": jnp.ones(5, jnp.float32)}
    grads = [jax.tree.map(lambda p, k=k: jnp.sin(p * (k + 1)), params) for k in range(3)]
    rates = jnp.array([1e-3, 1e-2, 3e-2], jnp.float32)
    together = jax.jit(jax.vmap(lambda rate: _run_at(rate, params, grads)))(rates)
    run_alone = jax.jit(lambda rate: _run_at(rate, params, grads))
    for i, rate in enumerate(rates):
        alone = run_alone(rate)
        for name in params:
            np.testing.assert_allclose(together[name][i], alone[name], rtol=1e-5, atol=1e-7)
    assert not np.allclose(together["w"][0], together["w"][2])


@pytest.mark.parametrize("lazy", [True, False])
def test_under_vmap_the_fit_stays_behind_a_cond(monkeypatch, lazy):
    """A batched step count (states vmapped, as the engine does) turns the skip into a select,
    every lane solving its triangular systems at every step; ``switch_per_lane`` keeps the fit
    behind a cond on "some lane fits now"."""
    if not lazy:
        module = importlib.import_module("jaxopt_lab.optimizers.kron")
        monkeypatch.setattr(
            module, "switch_per_lane", lambda b: lambda i, ops: jax.lax.switch(i, b, ops)
        )
    build = optax.inject_hyperparams(kron)
    params = {"kernel": jnp.ones((5, 4)), "bias": jnp.ones(4)}
    states = jax.vmap(lambda rate: build(rate).init(params))(jnp.ones(3))
    jaxpr = jax.make_jaxpr(jax.vmap(lambda s: build(0.1).update(params, s, params)))(states)
    assert bool(unguarded(jaxpr.jaxpr, ("triangular_solve",))) != lazy
    assert "triangular_solve" in str(jaxpr)


def test_eager_steps_compile_once():
    """The fit's cond, compiled at every eager step before the update was jitted once."""
    params = {"kernel": jnp.ones((5, 4)), "bias": jnp.ones(4)}
    assert eager_compilations(kron(1e-2, preconditioner_update_probability=1.0), params) == [0] * 3


def test_inject_hyperparams_with_a_traced_init():
    """optax.inject_hyperparams injects every numeric argument, defaults included, as an array;
    the sizes that decide the factors' shapes default to None so that it leaves them alone,
    and one given as a number must be static when init is traced (as in a vmapped sweep)."""
    params = {"w": jnp.ones((4, 3)), "b": jnp.ones(3)}
    injected = optax.inject_hyperparams(kron)(learning_rate=1e-2)
    state = jax.jit(injected.init)(params)
    assert [q.ndim for q in state.inner_state[0].preconditioners[1]] == [2, 2]
    updates, _ = jax.jit(injected.update)(params, state, params)
    plain = kron(1e-2)
    expected, _ = plain.update(params, plain.init(params), params)
    for name in params:
        np.testing.assert_allclose(updates[name], expected[name], rtol=1e-5, atol=1e-8)
    sized = optax.inject_hyperparams(kron)(learning_rate=1e-2, max_size_triangular=3)
    assert [q.ndim for q in sized.init(params).inner_state[0].preconditioners[1]] == [1, 2]
    with pytest.raises(ValueError, match="static_args=\\('max_size_triangular'"):
        jax.jit(sized.init)(params)
    static = optax.inject_hyperparams(kron, static_args=("max_size_triangular",))
    state = jax.jit(static(learning_rate=1e-2, max_size_triangular=3).init)(params)
    assert [q.ndim for q in state.inner_state[0].preconditioners[1]] == [1, 2]


@pytest.mark.parametrize(
    ("shape", "settings", "expected"),
    [
        ((6, 4), {}, (True, True)),
        ((5,), {}, (False,)),
        ((), {}, (False,)),
        ((1, 4), {}, (False, True)),
        ((10, 3), {"max_size_triangular": 8}, (False, True)),
        ((5,), {"min_ndim_triangular": 1}, (True,)),
        ((3, 3, 2, 4), {"min_ndim_triangular": 5}, (False,) * 4),
        ((784, 128), {"memory_save_mode": "one_diag"}, (False, True)),
        ((4, 4), {"memory_save_mode": "one_diag"}, (True, False)),
        ((6, 4), {"memory_save_mode": "all_diag"}, (False, False)),
    ],
)
def test_which_axes_get_triangular_factors(shape, settings, expected):
    assert factor_kinds(shape, **settings) == expected


def _state_floats(shapes, **settings):
    """Floats the state holds per parameter (momentum and factors), from shapes alone."""
    params = {str(i): jax.ShapeDtypeStruct(s, jnp.float32) for i, s in enumerate(shapes)}
    state = jax.eval_shape(scale_by_kron(**settings).init, params)
    floats = sum(leaf.size for leaf in jax.tree.leaves(state) if leaf.ndim > 0)
    return floats / sum(math.prod(s) for s in shapes)


def test_state_size_per_parameter():
    n = 784 * 128
    assert _state_floats([(784, 128)]) == (784**2 + 128**2 + n) / n  # 7.29
    assert _state_floats([(784, 128)], max_size_triangular=512) == (784 + 128**2 + n) / n
    assert _state_floats([(784, 128)], memory_save_mode="one_diag") == (784 + 128**2 + n) / n
    assert _state_floats([(784, 128)], memory_save_mode="all_diag") == (784 + 128 + n) / n
    assert _state_floats([(128,)]) == 2.0


def test_balance_equalises_the_factors_norms_and_keeps_q():
    factors = (jnp.triu(jnp.ones((3, 3))) * 8.0, jnp.array([0.5, 0.25]), jnp.eye(2) * 2.0)
    balanced = balance(factors)
    norms = [float(jnp.max(jnp.abs(q))) for q in balanced]
    np.testing.assert_allclose(norms, [2.0, 2.0, 2.0], rtol=1e-6)
    g = jax.random.normal(jax.random.key(0), (3, 2, 2))
    np.testing.assert_allclose(precondition(balanced, g), precondition(factors, g), rtol=1e-5)
    assert all(bool(jnp.all(a == b)) for a, b in zip(balance(factors, False), factors, strict=True))


def test_norm_lower_bound_bounds_the_spectral_norm_within_root_two():
    for seed in range(5):
        x = np.random.default_rng(seed).normal(size=(7, 5))
        a = jnp.asarray(x @ x.T)
        bound, norm = float(norm_lower_bound(a)), float(np.linalg.norm(x @ x.T, 2))
        assert norm / math.sqrt(2) <= bound <= norm * (1 + 1e-6)
    assert float(norm_lower_bound(jnp.zeros((3, 3)))) == 0.0


def _update_steps(rule, probability, steps=200):
    """The 1-based steps at which the factor of a 1-D leaf (made triangular) changed."""
    optimizer = scale_by_kron(
        preconditioner_update_probability=probability,
        preconditioner_update_rule=rule,
        min_ndim_triangular=1,
        seed=11,
    )
    params = jnp.ones(4)
    state, update = optimizer.init(params), jax.jit(optimizer.update)
    changed = []
    for step in range(steps):
        before = state.preconditioners[0][0]
        _, state = update(jnp.cos(params * (step + 1)), state)
        if not bool(jnp.all(state.preconditioners[0][0] == before)):
            changed.append(step + 1)
    return changed


def test_the_counter_rule_updates_every_ceil_one_over_p_steps():
    assert _update_steps("counter", 0.3, steps=20) == [4, 8, 12, 16, 20]
    assert _update_steps("counter", 1.0, steps=5) == [1, 2, 3, 4, 5]
    assert _update_steps("counter", 0.0, steps=5) == []


def test_the_random_rule_updates_when_the_draw_falls_below_p():
    """In distribution: the count is binomial(200, 0.3), 60 ± 6.5; exactly: the steps are
    those whose U_update < p."""
    changed = _update_steps("random", 0.3)
    expected = [
        count + 1
        for count in range(200)
        if float(preconditioner_draws(jax.random.key(11), count, [])[0]) < 0.3
    ]
    assert changed == expected
    assert abs(len(changed) - 60) <= 4 * math.sqrt(200 * 0.3 * 0.7)


def test_the_seed_in_the_state_decides_the_draws():
    optimizer = kron(0.02, seed=1)
    a, _ = run_jax(optimizer, ("matrix",), steps=5)
    b, _ = run_jax(optimizer, ("matrix",), steps=5)
    c, _ = run_jax(kron(0.02, seed=2), ("matrix",), steps=5)
    assert max_difference(a, b) == 0.0
    assert max_difference(a, c) > 0.0
    # The draws are injected through the state: seed 1's optimizer with seed 2 in its state.
    params = {"matrix": jnp.asarray(START["matrix"], jnp.float32)}
    grads = jax.tree.map(jnp.cos, params)
    state = optimizer.init(params)
    state = (state[0]._replace(seed=jnp.uint32(2)), *state[1:])
    swapped, _ = optimizer.update(grads, state, params)
    other = kron(0.02, seed=2)
    expected, _ = other.update(grads, other.init(params), params)
    np.testing.assert_array_equal(swapped["matrix"], expected["matrix"])


def test_bfloat16_params_keep_bfloat16_updates_and_state():
    params = {"w": jnp.ones((4, 3), jnp.bfloat16), "b": jnp.zeros(3, jnp.bfloat16)}
    optimizer = kron(1e-2)
    state = optimizer.init(params)
    grads = jax.tree.map(lambda p: jnp.sin(p + 0.3), params)
    updates, state = jax.jit(optimizer.update)(grads, state, params)
    assert all(u.dtype == jnp.bfloat16 for u in jax.tree.leaves(updates))
    assert all(leaf.dtype == jnp.bfloat16 for leaf in jax.tree.leaves(state[0]) if leaf.ndim > 0)
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))
    # Plain arrays only (a checkpoint saves np.asarray of every leaf): no typed PRNG key.
    assert not any(
        jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key) for leaf in jax.tree.leaves(state)
    )
    [np.asarray(leaf) for leaf in jax.tree.leaves(state)]  # raises for a typed key


BAD = [
    ({"b1": 1.0}, "b1=1.0 is invalid: it must lie in [0, 1)"),
    ({"weight_decay": -1.0}, "weight_decay=-1.0"),
    ({"preconditioner_update_probability": 1.5}, "preconditioner_update_probability=1.5"),
    ({"preconditioner_update_probability": -0.1}, "must lie in [0, 1]"),
    ({"max_size_triangular": -1}, "max_size_triangular=-1 is invalid: it must be an integer"),
    ({"max_size_triangular": 10.5}, "max_size_triangular=10.5"),
    ({"min_ndim_triangular": -2}, "min_ndim_triangular=-2"),
    ({"memory_save_mode": "some_diag"}, "memory_save_mode='some_diag' is invalid"),
    ({"momentum_into_precond_update": 1}, "momentum_into_precond_update=1 is invalid"),
    ({"preconditioner_lr": 1.5}, "preconditioner_lr=1.5 is invalid: it must lie in [0, 1]"),
    ({"preconditioner_init_scale": 0.0}, "preconditioner_init_scale=0.0 is invalid"),
    ({"preconditioner_init_scale": math.inf}, "preconditioner_init_scale=inf"),
    ({"precond_damping": -1e-3}, "precond_damping=-0.001"),
    ({"preconditioner_update_rule": "coin"}, "preconditioner_update_rule='coin' is invalid"),
    ({"seed": -1}, "seed=-1 is invalid"),
    ({"seed": 2**32}, "seed=4294967296 is invalid: it must be an integer below 2**32"),
    ({"mu_dtype": "int32"}, "mu_dtype='int32' is invalid"),
    ({"precond_dtype": "int8"}, "precond_dtype='int8' is invalid"),
    ({"learning_rate": -1.0}, "learning_rate=-1.0"),
]


@pytest.mark.parametrize(("hyperparameters", "words"), BAD)
def test_bad_hyperparameters_are_refused_when_built(hyperparameters, words):
    with pytest.raises(ValueError) as error:
        kron(**{"learning_rate": 1e-3, **hyperparameters})
    assert words in str(error.value)

"""SOAP against its literal NumPy rule and ``pytorch_optimizer.SOAP``, in float64; its pieces.

The NumPy rule ``reference_soap`` (tests/reference.py; the conformance kit's reference in
test_properties.py) follows the authors' code (github.com/nikhilvyas/SOAP, ``soap.py``)
statement by statement: the first moment projected back and forth at every step, the statistics
and the bases updated after the step, eigh (flipped to descending) the first time and one power
iteration + QR (after sorting by Rayleigh quotients) every f-th step, the decay of the updated
parameter.

Eigenvectors are defined up to sign (θ does not depend on it) and, inside a repeated
eigenvalue, up to a rotation (θ does). A first gradient G of shape m × n leaves G Gᵀ with a null
space of dimension m − n: the problems here keep it ≤ 1 (5 × 4, 3 × 3 × 2 × 4, a 2-vector with
``precondition_1d``), or take a 6 × 4 kernel one-sided (``max_precondition_dim=5``), so that the
implementations' eigh agree (two-sided, JAX's eigh and NumPy's or torch's pick other bases of
the 6 × 6 L's null plane, and the trajectories part by 4e-2 within 60 steps). Gradients carry
step-to-step noise (see ``make_grad``). The comparisons run ``STEPS`` = 60 steps, 5 refreshes
at f = 10 and up to 29 at f = 2, to rtol 1e-8, atol 1e-12; the differences seen are rounding,
≤ 2e-14 in θ (≤ 2e-11 relatively, on the smallest entries), against the rule and against the
package with its QR in float64. As shipped, the package's float32 QR puts it up to 7e-7 away
from step 12 on.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import math
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab.optimizers.soap import (
    merge_small_dims,
    preconditioned_shape,
    scale_by_soap,
    soap,
    state_size,
)
from tests.optimizers.lanes import eager_compilations, unguarded
from tests.reference import reference_soap

# The module, not the factory that jaxopt_lab.optimizers exports under the same name.
soap_module = importlib.import_module("jaxopt_lab.optimizers.soap")

STEPS = 60
RTOL, ATOL = 1e-8, 1e-12
REASON = "needs pytorch-optimizer 4.1.0 and torch: pip install pytorch-optimizer==4.1.0"


# The problem: leaves of several ranks, gradients with step-to-step noise --------------------------

_rng = np.random.default_rng(3)
SHAPES = {
    "kernel": (5, 4),  # G Gᵀ of the first gradient: 5 × 5 of rank 4, a null space of dimension 1
    "conv": (3, 3, 2, 4),  # every unfolding has full rank
    "bias": (5,),
    "scalar": (),
    "tall": (6, 4),  # only one-sided (max_precondition_dim=5): its L would have rank 4 of 6
    "wide": (4, 7),  # one-sided the other way
    "pair": (2,),  # a vector with precondition_1d: g gᵀ of rank 1 in 2 dimensions
}
START = {name: _rng.normal(size=shape) for name, shape in SHAPES.items()}
TARGET = {name: _rng.normal(size=shape) for name, shape in SHAPES.items()}
NOISE = [{name: _rng.normal(size=shape) for name, shape in SHAPES.items()} for _ in range(STEPS)]
LEAVES = ("kernel", "conv", "bias", "scalar")


def make_grad():
    """∇L(θ) of Σ log cosh(θ − c) + 0.05 Σ θ⁴ plus the t-th of fixed noise draws, in NumPy.

    The noise stands for a minibatch: with the exact gradient, the second gradient equals the
    first (the first step does not move θ), its rotated entries along the null vector of G Gᵀ
    are rounding (1e-16), and m/(√v + ε) turns that rounding into 1e-9 differences.
    """
    calls = []

    def grad(params):
        noise = NOISE[len(calls)]
        calls.append(None)
        return {k: np.tanh(p - TARGET[k]) + 0.2 * p**3 + 0.3 * noise[k] for k, p in params.items()}

    return grad


def run_jax(optimizer, leaves=LEAVES, steps=STEPS):
    """The trajectory [θ₀, …] of ``optimizer`` in float64, under jit."""
    grad = make_grad()
    with jax.enable_x64(True):
        params = {name: jnp.asarray(START[name]) for name in leaves}
        state, update = optimizer.init(params), jax.jit(optimizer.update)
        path = [{name: START[name] for name in leaves}]
        for _ in range(steps):
            grads = grad({name: np.asarray(p) for name, p in params.items()})
            updates, state = update(grads, state, params)
            params = optax.apply_updates(params, updates)
            path.append({name: np.asarray(p) for name, p in params.items()})
    return path


def run_numpy(hyperparameters, leaves=LEAVES, steps=STEPS):
    return reference_soap(
        make_grad(), {name: START[name] for name in leaves}, steps, **hyperparameters
    )


def assert_paths_close(actual, expected, rtol=RTOL, atol=ATOL, steps=STEPS):
    assert len(actual) == len(expected) == steps + 1
    for name in expected[0]:
        a = np.stack([point[name] for point in actual])
        e = np.stack([point[name] for point in expected])
        assert not np.allclose(e[-1], e[0]), f"{name} did not move"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name)


# name, hyperparameters, leaves
CASES = [
    ("defaults", {}, LEAVES),
    (
        "every knob, refresh every 2nd step",
        {
            "learning_rate": 0.02,
            "b1": 0.9,
            "b2": 0.99,
            "shampoo_beta": 0.8,
            "eps": 1e-7,
            "weight_decay": 0.1,
            "precondition_frequency": 2,
        },
        LEAVES,
    ),
    (
        "one-sided above max_precondition_dim",
        {"learning_rate": 0.02, "max_precondition_dim": 5},
        ("kernel", "conv", "tall", "wide"),
    ),
    (
        "merged dimensions",
        {
            "learning_rate": 0.02,
            "merge_dims": True,
            "max_precondition_dim": 9,
            "precondition_frequency": 3,
        },
        LEAVES,
    ),
    (
        "vectors preconditioned, no bias correction, normalised",
        {
            "learning_rate": 0.01,
            "precondition_1d": True,
            "correct_bias": False,
            "normalize_gradient": True,
            "precondition_frequency": 4,
        },
        ("kernel", "pair"),
    ),
]
CASE_IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("name", "hyperparameters", "leaves"), CASES, ids=CASE_IDS)
def test_follows_the_literal_numpy_rule(name, hyperparameters, leaves):
    assert_paths_close(run_jax(soap(**hyperparameters), leaves), run_numpy(hyperparameters, leaves))


def test_follows_the_literal_numpy_rule_under_a_schedule():
    def schedule(count):
        return 0.02 * 0.97**count

    ours = run_jax(soap(schedule, weight_decay=0.1, precondition_frequency=5))
    theirs = run_numpy(
        {"learning_rate": schedule, "weight_decay": 0.1, "precondition_frequency": 5}
    )
    assert_paths_close(ours, theirs)


# pytorch_optimizer.SOAP ------------------------------------------------------------------------


def _package():
    """``pytorch_optimizer`` 4.1.x (it has no ``__version__``: the distribution's is read)."""
    pytest.importorskip("torch", reason=REASON)
    package = pytest.importorskip("pytorch_optimizer", reason=REASON)
    version = importlib.metadata.version("pytorch-optimizer")
    if not version.startswith("4.1."):
        pytest.skip(f"pytorch-optimizer {version} installed; these tests read 4.1.0's SOAP")
    return package


def run_package(hyperparameters, leaves=LEAVES, steps=STEPS):
    """The trajectory of ``pytorch_optimizer.SOAP`` with the same hyperparameters (float64)."""
    torch = pytest.importorskip("torch", reason=REASON)
    torch.set_num_threads(1)
    hp = {"learning_rate": 3e-3, "b1": 0.95, "b2": 0.95, **hyperparameters}
    options = {"lr": hp.pop("learning_rate"), "betas": (hp.pop("b1"), hp.pop("b2"))}
    options.update(hp)  # the other names are the package's
    params = {
        name: torch.nn.Parameter(torch.tensor(START[name], dtype=torch.float64)) for name in leaves
    }
    optimizer = _package().SOAP(list(params.values()), **options)
    grad = make_grad()
    path = [{name: START[name] for name in leaves}]
    for _ in range(steps):
        grads = grad({name: p.detach().numpy().copy() for name, p in params.items()})
        for name, p in params.items():
            p.grad = torch.tensor(grads[name], dtype=torch.float64)
        optimizer.step()
        path.append({name: p.detach().numpy().copy() for name, p in params.items()})
    return path


@pytest.fixture
def package_qr_in_float64(monkeypatch):
    """The package's own refresh with its QR in float64 (it casts S Q to float32 first)."""
    torch = pytest.importorskip("torch", reason=REASON)
    soap_class = _package().SOAP
    refresh = soap_class.get_orthogonal_matrix_qr
    to = torch.Tensor.to

    def keep_float64(tensor, *args, **kwargs):
        return tensor if args == (torch.float32,) and not kwargs else to(tensor, *args, **kwargs)

    @functools.wraps(refresh)
    def refresh_in_float64(*args, **kwargs):
        with monkeypatch.context() as patch:
            patch.setattr(torch.Tensor, "to", keep_float64)
            return refresh(*args, **kwargs)

    monkeypatch.setattr(soap_class, "get_orthogonal_matrix_qr", refresh_in_float64)


# The package reshapes a leaf that merges into one dimension to [1] and fails: with merge_dims,
# only leaves that keep two merged dimensions. Its normalisation adds ε = 1e-8, not 1e-30.
PACKAGE_CASES = [
    (name, hyperparameters, ("kernel", "conv") if hyperparameters.get("merge_dims") else leaves)
    for name, hyperparameters, leaves in CASES
    if not hyperparameters.get("normalize_gradient")
] + [
    (
        "vectors preconditioned, no bias correction",
        {"learning_rate": 0.01, "precondition_1d": True, "correct_bias": False},
        ("kernel", "pair", "scalar"),
    )
]


@pytest.mark.parametrize(
    ("name", "hyperparameters", "leaves"), PACKAGE_CASES, ids=[c[0] for c in PACKAGE_CASES]
)
def test_matches_pytorch_optimizer_soap_with_its_qr_in_float64(
    package_qr_in_float64, name, hyperparameters, leaves
):
    assert_paths_close(
        run_jax(soap(**hyperparameters), leaves), run_package(hyperparameters, leaves)
    )


def test_pytorch_optimizer_soap_as_shipped_parts_at_its_float32_qr():
    """Equal to rounding until the first refreshed basis is used (step 12 at f = 10), then
    within the float32 QR's 1e-7, which the trajectory carries (≤ 1e-6 here)."""
    hyperparameters = {"learning_rate": 0.02, "weight_decay": 0.1}
    ours = run_jax(soap(**hyperparameters))
    theirs = run_package(hyperparameters)
    assert_paths_close(ours[:12], theirs[:12], steps=11)
    assert_paths_close(ours, theirs, rtol=1e-5, atol=1e-6)
    later = max(np.abs(ours[-1][k] - theirs[-1][k]).max() for k in LEAVES)
    assert later > 1e-10, "the package's QR now runs in float64: tighten this test"


def test_normalize_gradient_differs_from_the_package_by_its_eps(package_qr_in_float64):
    """The authors divide N by 1e-30 + rms(N), the package by rms(N) + ε: equal at ε = 0, and
    1e-8 apart (relatively) at ε = 1e-8, a few 1e-8 in θ here."""
    for eps, rtol, atol in [(0.0, RTOL, ATOL), (1e-8, 1e-6, 1e-7)]:
        hyperparameters = {"learning_rate": 0.01, "normalize_gradient": True, "eps": eps}
        ours = run_jax(soap(**hyperparameters))
        theirs = run_package(hyperparameters)
        assert_paths_close(ours, theirs, rtol=rtol, atol=atol)
    with pytest.raises(AssertionError):
        assert_paths_close(ours, theirs, rtol=1e-10, atol=1e-12)


# jit, vmap (the conformance kit runs in test_properties.py) -------------------------------------


def _tree(dtype=jnp.float32, leaves=("kernel", "bias")):
    return {name: jnp.asarray(START[name], dtype) for name in leaves}


def _steps(optimizer, params, steps, jit=True):
    state = optimizer.init(params)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    for step in range(steps):
        grads = jax.tree.map(lambda p, s=step: jnp.sin(3.0 * p + s), params)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def _run_in_a_loop(optimizer, params, steps):
    """``steps`` updates inside one ``fori_loop`` (one copy of the update to compile)."""

    def body(step, carry):
        params, state = carry
        grads = jax.tree.map(lambda p: jnp.sin(3.0 * p + step), params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.lax.fori_loop(0, steps, body, (params, optimizer.init(params)))[0]


def test_vmap_over_learning_rates_equals_separate_runs_through_refreshes():
    """The engine's sweep: η injected and vmapped; 8 steps at f = 3 (two refreshes)."""
    injected = optax.inject_hyperparams(soap, static_args=("max_precondition_dim",))
    with jax.enable_x64(True):
        rates = jnp.array([1e-3, 1e-2, 3e-2])
        params = _tree(jnp.float64, ("kernel", "conv"))

        def lane(rate):
            return _run_in_a_loop(injected(rate, precondition_frequency=3), params, 8)

        def alone(rate):
            return _run_in_a_loop(soap(rate, precondition_frequency=3), params, 8)

        batched = jax.jit(jax.vmap(lane))(rates)
        alone = jax.jit(alone)
        for i, rate in enumerate(rates):
            chex.assert_trees_all_close(
                jax.tree.map(lambda x, i=i: x[i], batched), alone(rate), rtol=1e-10, atol=1e-14
            )
        assert not np.allclose(batched["kernel"][0], batched["kernel"][2])


def test_nested_vmap_over_seeds_and_learning_rates_with_lanes_at_different_steps():
    """vmap(vmap(·)) as the engine on accelerators (seeds × rates); the lanes' counts differ
    (3 and 4 steps taken before), so some lanes refresh while others do not."""
    optimizer = optax.inject_hyperparams(soap, static_args=("max_precondition_dim",))
    with jax.enable_x64(True):
        params = _tree(jnp.float64, ("kernel", "conv"))
        rates = jnp.array([[1e-2, 3e-2], [2e-2, 5e-2]])
        offsets = jnp.array([0.0, 0.5])

        def start(offset, taken):
            p = jax.tree.map(lambda x: x + offset, params)
            return _run_in_a_loop_with_state(optimizer(0.01, precondition_frequency=4), p, taken)

        def lane(rate, offset, taken):
            p, state = start(offset, taken)
            state.hyperparams["learning_rate"] = rate
            return _continue(optimizer(0.01, precondition_frequency=4), p, state, 6)

        takens = jnp.array([3, 4])
        batched = jax.jit(jax.vmap(jax.vmap(lane, (0, None, 0)), (0, 0, None)))(
            rates, offsets, takens
        )
        one = jax.jit(lane)
        for i in range(2):
            for j in range(2):
                expected = one(rates[i, j], offsets[i], takens[j])
                chex.assert_trees_all_close(
                    jax.tree.map(lambda x, i=i, j=j: x[i, j], batched),
                    expected,
                    rtol=1e-10,
                    atol=1e-14,
                )


def _run_in_a_loop_with_state(optimizer, params, steps):
    return _continue(optimizer, params, optimizer.init(params), steps, with_state=True)


def _continue(optimizer, params, state, steps, with_state=False):
    def body(step, carry):
        params, state = carry
        grads = jax.tree.map(lambda p: jnp.sin(3.0 * p + step), params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params, state = jax.lax.fori_loop(0, steps, body, (params, state))
    return (params, state) if with_state else params


def test_eager_steps_compile_once():
    """The refresh's cond, compiled at every eager step before the update was jitted once."""
    params = {"kernel": jnp.ones((5, 4)), "bias": jnp.ones(4)}
    optimizer = soap_module.soap(1e-2, precondition_frequency=1)
    assert eager_compilations(optimizer, params) == [0] * 3


@pytest.mark.parametrize("lazy", [True, False])
def test_under_vmap_the_eigh_and_qr_stay_behind_a_cond(monkeypatch, lazy):
    """A batched step count (states vmapped, as the engine does) turns ``lax.switch`` into a
    select, every lane computing eigh and QR at every step; ``switch_per_lane`` keeps them
    behind a cond on "some lane takes them" (a 784 × 128 kernel, 2 lanes, CPU: 23 ms a step
    against 164 ms, 12–19 ms unbatched)."""
    if not lazy:
        monkeypatch.setattr(
            soap_module, "switch_per_lane", lambda b: lambda i, ops: jax.lax.switch(i, b, ops)
        )
    build = optax.inject_hyperparams(soap_module.soap, static_args=("max_precondition_dim",))
    params = {"kernel": jnp.ones((5, 4)), "conv": jnp.ones((2, 3, 4))}
    states = jax.vmap(lambda rate: build(rate).init(params))(jnp.ones(3))
    jaxpr = jax.make_jaxpr(jax.vmap(lambda s: build(0.1).update(params, s, params)))(states)
    assert bool(unguarded(jaxpr.jaxpr, ("eigh", "qr"))) != lazy
    assert "eigh" in str(jaxpr) and "qr" in str(jaxpr)


def test_jit_equals_eager_and_compiles_once_across_refreshes():
    traces = []
    optimizer = soap(0.02, precondition_frequency=2)

    def update(grads, state, params):
        traces.append(None)
        return optimizer.update(grads, state, params)

    with jax.enable_x64(True):
        params = _tree(jnp.float64)
        eager, _ = _steps(optimizer, params, 7, jit=False)
        state = optimizer.init(params)
        jitted = jax.jit(update)
        current = params
        for step in range(7):
            grads = jax.tree.map(lambda p, s=step: jnp.sin(3.0 * p + s), current)
            updates, state = jitted(grads, state, current)
            current = optax.apply_updates(current, updates)
    assert len(traces) == 1
    chex.assert_trees_all_close(current, eager, rtol=1e-12, atol=1e-14)


def test_the_refresh_is_a_cond_inside_the_compiled_update():
    """No Python branch on the step count: eigh and QR sit in a cond of the one program."""
    optimizer = soap(0.02)
    params = {"kernel": jnp.ones((5, 4))}
    jaxpr = jax.make_jaxpr(optimizer.update)(params, optimizer.init(params), params)
    assert "eigh" in str(jaxpr) and "qr" in str(jaxpr)
    assert unguarded(jaxpr.jaxpr, ("eigh", "qr")) == []


# The first step, the layout, the state -----------------------------------------------------------


BIAS, KERNEL = 0, 1  # the per-leaf tuples of {"kernel", "bias"}, in jax.tree.leaves order


def test_the_first_step_only_starts_the_preconditioner():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        params = {"kernel": jnp.asarray(rng.normal(size=(5, 4))), "bias": jnp.ones(4)}
        grads = {"kernel": jnp.asarray(rng.normal(size=(5, 4))), "bias": jnp.ones(4)}
        optimizer = soap(0.1, weight_decay=0.5, b2=0.9, shampoo_beta=0.7)
        updates, state = optimizer.update(grads, optimizer.init(params), params)
        direction = state[0]
        g = np.asarray(grads["kernel"])
        left, right = direction.statistics[KERNEL]
        np.testing.assert_allclose(left, 0.3 * g @ g.T, rtol=1e-14)
        np.testing.assert_allclose(right, 0.3 * g.T @ g, rtol=1e-14)
        q_left, q_right = direction.bases[KERNEL]
        for statistic, basis in [(left, q_left), (right, q_right)]:
            rayleigh = np.diag(basis.T @ statistic @ basis)
            assert np.all(np.diff(rayleigh) <= 1e-15), "eigenvalues must be descending"
            np.testing.assert_allclose(basis.T @ basis, np.eye(len(basis)), atol=1e-14)
            off_diagonal = basis.T @ statistic @ basis - np.diag(rayleigh)
            assert np.abs(off_diagonal).max() < 1e-14
        assert direction.statistics[BIAS] == (None,)
    assert all(not np.any(u) for u in jax.tree.leaves(updates))
    assert all(not np.any(m) for m in jax.tree.leaves((direction.mu, direction.nu)))


@pytest.mark.parametrize(
    ("shape", "options", "layout"),
    [
        ((784, 128), {}, ((784, 128), (True, True))),
        ((784, 128), {"max_precondition_dim": 500}, ((784, 128), (False, True))),
        ((128,), {}, ((128,), (False,))),
        ((128,), {"precondition_1d": True}, ((128,), (True,))),
        ((), {"merge_dims": True}, ((), ())),
        ((3, 3, 1, 32), {}, ((3, 3, 1, 32), (True, True, True, True))),
        ((3, 3, 1, 32), {"merge_dims": True}, ((288,), (True,))),
        ((3, 3, 1, 32), {"merge_dims": True, "max_precondition_dim": 9}, ((9, 32), (True, False))),
    ],
)
def test_which_dimensions_are_preconditioned(shape, options, layout):
    assert preconditioned_shape(shape, **options) == layout


def test_merge_small_dims_follows_the_authors():
    assert merge_small_dims((3, 3, 2, 4), 9) == (9, 8)
    assert merge_small_dims((1, 2, 512, 1, 2048), 1024) == (1024, 2048)
    assert merge_small_dims((20000, 3), 10000) == (20000, 3)
    assert merge_small_dims((3, 3, 1, 32), 10000) == (288,)
    assert merge_small_dims((), 10000) == (1,)


def test_state_size_of_a_dense_kernel_a_bias_and_a_conv_kernel():
    """m, v, and per preconditioned dimension a statistic and a basis, as allocated by init."""
    sizes = {
        (784, 128): 2 * 784 * 128 + 2 * (784**2 + 128**2),  # 1,462,784: 14.6 per parameter
        (128,): 2 * 128,
        (3, 3, 1, 32): 2 * 288 + 2 * (9 + 9 + 1 + 32**2),
    }
    optimizer = soap()
    for shape, size in sizes.items():
        state = jax.eval_shape(optimizer.init, {"w": jax.ShapeDtypeStruct(shape, jnp.float32)})
        assert state_size(shape) == size
        assert sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(state[0])) == size + 1
    assert state_size((784, 128)) / (784 * 128) == pytest.approx(14.58, abs=0.01)


def test_low_precision_leaves_keep_float32_statistics_and_their_own_update_dtype():
    params = {"kernel": jnp.arange(6.0).reshape(3, 2).astype(jnp.bfloat16)}
    optimizer = soap(0.01)
    state = optimizer.init(params)
    for step in range(3):
        grads = jax.tree.map(lambda p, s=step: jnp.sin(p + s), params)
        updates, state = jax.jit(optimizer.update)(grads, state, params)
    direction = state[0]
    assert updates["kernel"].dtype == jnp.bfloat16
    assert direction.mu["kernel"].dtype == jnp.bfloat16
    assert {s.dtype for s in direction.statistics[0] + direction.bases[0]} == {  # the one leaf
        jnp.dtype(jnp.float32)
    }
    assert bool(jnp.all(jnp.isfinite(updates["kernel"]))) and bool(jnp.any(updates["kernel"]))


@pytest.mark.parametrize(("eps", "apart"), [(1e-8, (1e-4, 1e-1)), (1e-3, (0.0, 1e-5))])
def test_a_repeated_full_batch_gradient_amplifies_rounding_along_the_null_space(eps, apart):
    """The module's "Sensitivity": the second gradient equals the first (θ has not moved), and
    one ulp of difference in it moves θ by far more than an ulp when ε is small."""
    kernel = jax.random.normal(jax.random.key(0), (4, 3))

    def run(mean):
        optimizer = soap(1e-2, eps=eps)
        params, state = {"kernel": kernel}, optimizer.init({"kernel": kernel})
        for _ in range(2):
            a, b = (jnp.sin(params["kernel"] * k + 0.3) for k in (1, 2))
            updates, state = optimizer.update({"kernel": mean(a, b)}, state, params)
            params = optax.apply_updates(params, updates)
        return params["kernel"]

    difference = float(
        jnp.max(jnp.abs(run(lambda a, b: (a + b) / 2) - run(lambda a, b: a + (b - a) / 2)))
    )
    assert apart[0] <= difference <= apart[1], difference


def test_scale_by_soap_is_the_direction_without_learning_rate_or_decay():
    params = _tree()
    direction = scale_by_soap()
    full = soap(learning_rate=0.5, weight_decay=0.0)
    d_state, f_state = direction.init(params), full.init(params)
    for step in range(3):
        grads = jax.tree.map(lambda p, s=step: jnp.cos(p + s), params)
        d, d_state = direction.update(grads, d_state, params)
        u, f_state = full.update(grads, f_state, params)
        chex.assert_trees_all_close(u, jax.tree.map(lambda x: -0.5 * x, d), rtol=1e-6)


# Hyperparameter checks ---------------------------------------------------------------------------

BAD = [
    ({"learning_rate": -1.0}, "learning_rate=-1.0"),
    ({"b1": 1.0}, "b1=1.0 is invalid: it must lie in [0, 1)"),
    ({"b2": -0.1}, "b2=-0.1"),
    ({"shampoo_beta": 1.0}, "shampoo_beta=1.0 is invalid: it must lie in [0, 1)"),
    ({"eps": -1e-8}, "eps=-1e-08"),
    ({"weight_decay": math.nan}, "weight_decay=nan"),
    (
        {"precondition_frequency": 0},
        "precondition_frequency=0 is invalid: it must be an integer >= 1",
    ),
    ({"precondition_frequency": 2.5}, "precondition_frequency=2.5 is invalid"),
    ({"max_precondition_dim": 0}, "max_precondition_dim=0 is invalid: it must be an integer >= 1"),
    ({"merge_dims": "yes"}, "merge_dims='yes' is invalid: it must be True or False"),
    ({"precondition_1d": 1}, "precondition_1d=1 is invalid"),
    ({"correct_bias": None}, "correct_bias=None is invalid"),
    ({"normalize_gradient": "no"}, "normalize_gradient='no' is invalid"),
]


def test_max_precondition_dim_may_be_injected_unless_dimensions_are_merged():
    """The state says which dimensions are preconditioned; a merge needs the number again, and
    creating the state under jit always does."""
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    plain = soap(0.01, max_precondition_dim=2)
    injected = optax.inject_hyperparams(soap)(learning_rate=0.01, max_precondition_dim=2)
    state, plain_state = injected.init(params), plain.init(params)
    assert plain_state[0].statistics[1][0] is None  # leaves: b, w  # one-sided: 3 > 2
    for step in range(3):
        grads = jax.tree.map(lambda p, s=step: jnp.sin(p * (s + 2.0)), params)
        updates, state = jax.jit(injected.update)(grads, state, params)
        expected, plain_state = plain.update(grads, plain_state, params)
        chex.assert_trees_all_close(updates, expected, rtol=1e-6)
    fix = re.escape("static_args=('max_precondition_dim',)")
    with pytest.raises(ValueError, match=fix):
        jax.jit(injected.init)(params)
    merged = optax.inject_hyperparams(soap)(learning_rate=0.01, merge_dims=True)
    with pytest.raises(ValueError, match=fix):
        jax.jit(merged.update)(params, merged.init(params), params)


@pytest.mark.parametrize(("hyperparameters", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_hyperparameters_are_refused_when_built(hyperparameters, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        soap(**hyperparameters)

"""Cautious optimizers against their literal NumPy rule and ``pytorch_optimizer`` in float64.

Every comparison runs ``STEPS`` = 100 steps from the same start on a tall matrix (5 × 3), a bias
vector (3,), a 4-D kernel (2 × 2 × 3 × 4) and a scalar, gradients ∇L = tanh(θ − c) + 0.2 θ³
computed in NumPy and handed alike to both sides, and asks |θ − θ_ref| ≤ ATOL + RTOL |θ_ref| at
every step, RTOL = 1e-9, ATOL = 1e-12 (differences seen: ≤ 1e-14, rounding).

The references of ``pytorch_optimizer`` 4.1.0: ``Lion(cautious=True)`` for cautious Lion, and
for cautious AdamW ``AdEMAMix(alpha=0, weight_decouple=True, cautious=True)``: with α = 0 its
slow moment drops out and its rule is AdamW's, masked where m·g ≤ 0 (the package's ``AdamW`` is
``torch.optim.AdamW``, which has no ``cautious``). Both decay θ by 1 − ηλ outside the mask, as
the authors' ``c_lion.py`` and ``c_adamw.py``.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab import testing
from jaxopt_lab.optimizers.cautious import cautious, cautious_adamw, cautious_lion
from jaxopt_lab.optimizers.schedule_free import (
    scale_by_bias_corrected_rms,
    schedule_free,
    schedule_free_adamw,
)
from tests.optimizers import float64
from tests.reference import reference_cautious_adamw, reference_cautious_lion

STEPS = 100
RTOL, ATOL = 1e-9, 1e-12
REASON = "needs pytorch-optimizer 4.1.0 and torch: pip install pytorch-optimizer==4.1.0"
ADAMW = {"learning_rate": 1e-2, "b1": 0.85, "b2": 0.99, "eps": 1e-8, "weight_decay": 0.1}
LION = {"learning_rate": 3e-3, "b1": 0.85, "b2": 0.97, "weight_decay": 0.1}

_rng = np.random.default_rng(5)
START = {
    "tall": _rng.normal(size=(5, 3)),
    "bias": _rng.normal(size=3),
    "kernel": _rng.normal(size=(2, 2, 3, 4)),
    "scalar": np.asarray(_rng.normal()),
}
TARGET = {name: _rng.normal(size=np.shape(leaf)) for name, leaf in START.items()}


def _grad(params):
    return float64.smooth_grad(params, TARGET)


# The literal rules -----------------------------------------------------------------------------


# Harness ---------------------------------------------------------------------------------------


def run_jax(optimizer, steps=STEPS):
    return float64.run_jax(optimizer, START, _grad, steps)[0]


def run_torch(make, steps=STEPS):
    torch = pytest.importorskip("torch", reason=REASON)
    torch.set_num_threads(1)
    params = {
        n: torch.nn.Parameter(torch.tensor(leaf, dtype=torch.float64)) for n, leaf in START.items()
    }

    def ours():
        return {n: p.detach().numpy().copy() for n, p in params.items()}

    optimizer, path = make(list(params.values())), [START]
    for _ in range(steps):
        grads = _grad(ours())
        for name, p in params.items():
            p.grad = torch.tensor(grads[name], dtype=torch.float64)
        optimizer.step()
        path.append(ours())
    return path


def run_numpy(rule, steps=STEPS, **hyperparameters):
    paths = {
        name: rule(lambda p, n=name: _grad({n: p})[n], START[name], steps, **hyperparameters)
        for name in START
    }
    return [{name: paths[name][step] for name in START} for step in range(steps + 1)]


def assert_paths_close(actual, expected, rtol=RTOL, atol=ATOL):
    assert len(actual) == len(expected) == STEPS + 1
    for name in START:
        a = np.stack([point[name] for point in actual])
        e = np.stack([point[name] for point in expected])
        assert not np.allclose(e[-1], e[0]), f"{name} did not move"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name)


def _largest_difference(a, b):
    return max(float(np.max(np.abs(a[-1][n] - b[-1][n]))) for n in START)


def _pytorch_optimizer():
    pytest.importorskip("torch", reason=REASON)
    return pytest.importorskip("pytorch_optimizer", reason=REASON)


def _their_adamw(weight_decay):
    po = _pytorch_optimizer()
    return lambda p: po.AdEMAMix(
        p,
        lr=ADAMW["learning_rate"],
        betas=(ADAMW["b1"], ADAMW["b2"], 0.999),
        alpha=0.0,
        eps=ADAMW["eps"],
        weight_decay=weight_decay,
        weight_decouple=True,
        cautious=True,
        foreach=False,
    )


def _their_lion(weight_decay):
    po = _pytorch_optimizer()
    return lambda p: po.Lion(
        p,
        lr=LION["learning_rate"],
        betas=(LION["b1"], LION["b2"]),
        weight_decay=weight_decay,
        cautious=True,
        foreach=False,
    )


# Against the references ------------------------------------------------------------------------


def test_cautious_adamw_matches_pytorch_optimizer():
    theirs = run_torch(_their_adamw(ADAMW["weight_decay"]))
    assert_paths_close(run_jax(cautious_adamw(**ADAMW)), theirs)
    # and the mask matters here: plain AdamW ends elsewhere
    assert _largest_difference(run_jax(jol.adamw(**ADAMW)), theirs) > 1e-3


def test_cautious_lion_matches_pytorch_optimizer():
    theirs = run_torch(_their_lion(LION["weight_decay"]))
    assert_paths_close(run_jax(cautious_lion(**LION)), theirs)
    assert _largest_difference(run_jax(jol.lion(**LION)), theirs) > 1e-3


def test_wrapping_a_whole_optimizer_without_decay_is_the_reference():
    """Wrapping ``adamw``/``lion`` themselves: the "step" convention (u = −η·direction)."""
    adamw = {**ADAMW, "weight_decay": 0.0}
    lion = {**LION, "weight_decay": 0.0}
    assert_paths_close(run_jax(cautious(jol.adamw(**adamw))), run_torch(_their_adamw(0.0)))
    assert_paths_close(run_jax(cautious(jol.lion(**lion))), run_torch(_their_lion(0.0)))


def test_wrapping_a_whole_optimizer_with_decay_masks_the_decay_too_unlike_the_authors():
    whole = run_jax(cautious(jol.adamw(**ADAMW)))
    assert _largest_difference(whole, run_jax(cautious_adamw(**ADAMW))) > 1e-3


def test_wrapping_optax_own_optimizer_works_alike():
    adamw = {**ADAMW, "weight_decay": 0.0}
    assert_paths_close(run_jax(cautious(optax.adamw(**adamw))), run_jax(cautious_adamw(**adamw)))


@pytest.mark.parametrize("rescale", ["count", "mean"])
def test_each_rescaling_follows_the_literal_rule(rescale):
    assert_paths_close(
        run_jax(cautious_adamw(**ADAMW, rescale=rescale)),
        run_numpy(reference_cautious_adamw, **ADAMW, rescale=rescale),
    )
    assert_paths_close(
        run_jax(cautious_lion(**LION, rescale=rescale)),
        run_numpy(reference_cautious_lion, **LION, rescale=rescale),
    )


# The mask itself -------------------------------------------------------------------------------


def _one_update(inner, grads, **options):
    tx = cautious(inner, **options)
    updates, _ = tx.update(grads, tx.init(grads), grads)
    return updates


def test_the_step_convention_keeps_entries_that_descend():
    """SGD's update −η g descends everywhere: all kept, scaled by n/(n + 1) = 4/5."""
    g = jnp.array([1.0, -2.0, 3.0, -4.0])
    updates = _one_update(optax.sgd(0.1), g)
    chex.assert_trees_all_close(updates, -0.1 * g * 4 / 5)


def test_the_direction_convention_keeps_entries_along_the_gradient():
    g = jnp.array([1.0, -2.0, 3.0, -4.0])
    chex.assert_trees_all_close(_one_update(optax.identity(), g, output="direction"), g * 4 / 5)
    # the same output read as a step (θ += g) ascends everywhere: nothing is kept
    chex.assert_trees_all_close(_one_update(optax.identity(), g), jnp.zeros(4))


def test_disagreeing_and_zero_entries_are_dropped_and_the_rest_rescaled():
    g = jnp.array([1.0, 1.0, -1.0, 0.0, 2.0])
    fixed = jnp.array([-0.5, 0.5, -0.5, -0.5, 0.0])  # steps: descend, ascend, ascend, 0·g, 0

    def inner_fn(updates, state, params=None):
        return fixed, state

    inner = optax.GradientTransformation(lambda p: optax.EmptyState(), inner_fn)
    kept = jnp.array([-0.5, 0.0, 0.0, 0.0, 0.0])
    chex.assert_trees_all_close(_one_update(inner, g), kept * 5 / 2)  # n/(k+1), k = 1
    chex.assert_trees_all_close(_one_update(inner, g, rescale="mean"), kept * 5)  # 1/(k/n)


def test_the_rescaling_is_per_leaf_and_halves_an_agreeing_scalar_under_count():
    g = {"scalar": jnp.array(2.0), "vector": jnp.array([1.0, -1.0, 1.0])}
    updates = _one_update(optax.sgd(1.0), g)
    chex.assert_trees_all_close(updates["scalar"], jnp.array(-1.0))  # 1/(1 + 1)
    chex.assert_trees_all_close(updates["vector"], -g["vector"] * 3 / 4)
    kept = _one_update(optax.sgd(1.0), g, rescale="mean")
    chex.assert_trees_all_close(kept, jax.tree.map(jnp.negative, g))


def test_a_float16_agreement_does_not_underflow_and_a_nan_stays_nan():
    g = jnp.array([1e-4, -1e-4, 1.0], jnp.float16)  # (1e-5 · 1e-4) underflows in float16
    updates = _one_update(optax.sgd(0.1), g)
    assert updates.dtype == jnp.float16
    assert bool(jnp.all(updates != 0))
    nan = _one_update(optax.sgd(0.1), jnp.array([jnp.nan, 1.0]))
    assert bool(jnp.isnan(nan[0])) and float(nan[1]) != 0


def test_the_state_is_the_inner_state_and_extra_arguments_reach_it():
    seen = {}

    def update_fn(updates, state, params=None, **extra):
        seen.update(extra)
        return jax.tree.map(jnp.negative, updates), state

    inner = optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update_fn)
    tx = cautious(inner)
    tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2), loss=3.0)
    assert seen == {"loss": 3.0}
    adamw = jol.adamw(1e-3)
    params = {"w": jnp.ones((2, 3))}
    ours, theirs = cautious(adamw).init(params), adamw.init(params)
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    chex.assert_trees_all_equal(ours, theirs)


# Schedule-free inside ----------------------------------------------------------------------------


def _schedule_free_run(optimizer, steps=5):
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.array([0.5, -0.5])}
    state, zs = optimizer.init(params), []
    for step in range(steps):
        grads = jax.tree.map(lambda p, s=step: jnp.sin(3.0 * p + s) + p, params)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        zs.append(_schedule_free_state(state).z)
    return params, state, jax.tree.map(lambda *z: sum(z) / len(z), *zs)


def _schedule_free_state(state):
    (found,) = [
        node
        for node in jax.tree.leaves(state, is_leaf=lambda n: isinstance(n, jol.ScheduleFreeState))
        if isinstance(node, jol.ScheduleFreeState)
    ]
    return found


def test_eval_params_finds_the_schedule_free_state_inside_a_cautious_wrapper():
    params, state, _ = _schedule_free_run(cautious(schedule_free_adamw(0.1, b1=0.8)))
    sf = _schedule_free_state(state)
    expected = jax.tree.map(lambda y, z: (y - 0.2 * z) / 0.8, params, sf.z)
    chex.assert_trees_all_close(jol.eval_params(state, params), expected, rtol=1e-6)
    assert not np.allclose(jol.eval_params(state, params)["w"], params["w"])


def test_masking_the_schedule_free_direction_keeps_x_the_average_of_z():
    """r = 0 and a constant η: x_T is the mean of z₁…z_T. Masking the base direction keeps that;
    masking the whole update (its interpolation step too) does not."""
    inside = schedule_free(cautious(scale_by_bias_corrected_rms(), output="direction"), 0.1, 0.8)
    params, state, mean_z = _schedule_free_run(inside)
    chex.assert_trees_all_close(jol.eval_params(state, params), mean_z, rtol=1e-5, atol=1e-6)
    params, state, mean_z = _schedule_free_run(cautious(schedule_free_adamw(0.1, b1=0.8)))
    assert not np.allclose(jol.eval_params(state, params)["w"], mean_z["w"], atol=1e-3)


# The conformance kit, hyperparameters, jit and vmap ----------------------------------------------

KIT = {
    "adamw": (
        cautious_adamw,
        reference_cautious_adamw,
        {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-7, "weight_decay": 1e-3},
    ),
    "lion": (
        cautious_lion,
        reference_cautious_lion,
        {"learning_rate": 0.003, "b1": 0.85, "b2": 0.98, "weight_decay": 0.01},
    ),
}


@pytest.mark.parametrize("name", KIT)
def test_passes_the_conformance_kit_against_the_literal_rule(name):
    factory, rule, hyper = KIT[name]
    report = testing.check_optimizer(factory, hyperparameters=hyper, reference=rule)
    report.assert_ok()
    assert not report.skipped, str(report)


def test_a_ready_wrapped_transformation_passes_the_kit():
    report = testing.check_optimizer(cautious(jol.adamw(0.01, weight_decay=0.0)))
    report.assert_ok()


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: cautious(optax.sgd(0.1), output="descent"), "output='descent' is invalid"),
        (lambda: cautious(optax.sgd(0.1), rescale="sum"), "rescale='sum' is invalid"),
        (lambda: cautious_adamw(b1=1.0), "b1=1.0"),
        (lambda: cautious_adamw(weight_decay=-1.0), "weight_decay=-1.0"),
        (lambda: cautious_lion(learning_rate=-1.0), "learning_rate=-1.0"),
        (lambda: cautious_lion(b2=1.5), "b2=1.5"),
        (lambda: cautious_lion(rescale="none"), "rescale='none' is invalid"),
    ],
)
def test_bad_hyperparameters_are_refused_at_build_time(build, words):
    with pytest.raises(ValueError) as error:
        build()
    assert words in str(error.value)


def _small_run(optimizer, steps=5, jit=True):
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.array([0.3, -0.2, 0.1])}
    state = optimizer.init(params)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    for step in range(steps):
        grads = jax.tree.map(lambda p, s=step: jnp.sin(3 * p + s) + p, params)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params


@pytest.mark.parametrize("factory", [cautious_adamw, cautious_lion])
def test_jit_equals_eager(factory):
    chex.assert_trees_all_close(
        _small_run(factory(0.05), jit=True),
        _small_run(factory(0.05), jit=False),
        rtol=1e-6,
        atol=1e-7,
    )


@pytest.mark.parametrize("factory", [cautious_adamw, cautious_lion])
def test_vmap_over_learning_rates_equals_separate_runs(factory):
    rates = [0.01, 0.03, 0.1]

    def final(rate):
        return _small_run(optax.inject_hyperparams(factory)(learning_rate=rate), jit=False)

    with jax.enable_x64(True):
        together = jax.jit(jax.vmap(final))(jnp.array(rates))
        for lane, rate in enumerate(rates):
            chex.assert_trees_all_close(
                jax.tree.map(lambda x, i=lane: x[i], together),
                _small_run(factory(rate)),
                rtol=1e-12,
                atol=1e-14,
            )
        assert not np.allclose(together["w"][0], together["w"][2])

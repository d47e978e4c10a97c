"""Properties every optimizer of the registry shares: one parametrised table over the registry."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab import testing
from tests.reference import REFERENCES

NAMES = list(jol.OPTIMIZERS)
LR = 0.01

# Hyperparameters for the conformance kit: non-default where the rule has any, so that a wrong
# default cannot hide behind the reference rule, and learning rates at which the parabola and
# Rosenbrock converge on the kit's grid (η × 1, 10, 0.1, 100, 0.01).
CONFORMANCE = {
    "sgd": {"learning_rate": 0.01},
    "momentum": {"learning_rate": 0.01, "momentum": 0.8},
    "nesterov": {"learning_rate": 0.01, "momentum": 0.85},
    "adagrad": {"learning_rate": 0.3, "eps": 1e-6, "initial_accumulator_value": 0.1},
    "adam": {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-7},
    "rmsprop": {"learning_rate": 0.003, "decay": 0.95, "eps": 1e-6},
    "adadelta": {"learning_rate": 0.1, "rho": 0.85, "eps": 1e-5},
    "nadam": {"learning_rate": 0.01, "b1": 0.85, "b2": 0.99, "eps": 1e-7},
    "adamw": {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-7, "weight_decay": 1e-3},
    "lion": {"learning_rate": 0.003, "b1": 0.85, "b2": 0.98, "weight_decay": 0.01},
    # muon_mask=True: the kit's 1-D reference problem goes through Newton–Schulz (as 1 × n).
    "muon": {
        "learning_rate": 0.01,
        "momentum": 0.9,
        "ns_steps": 4,
        "eps": 1e-6,
        "weight_decay": 1e-3,
        "adjust_lr": "match_rms_adamw",
        "muon_mask": True,
    },
    "schedule_free_sgd": {
        "learning_rate": 0.05,
        "momentum": 0.8,
        "weight_decay": 1e-3,
        "warmup_steps": 5,
        "r": 0.5,
        "weight_lr_power": 1.5,
    },
    "schedule_free_adamw": {
        "learning_rate": 0.01,
        "b1": 0.85,
        "b2": 0.99,
        "eps": 1e-7,
        "weight_decay": 1e-3,
        "warmup_steps": 5,
        "r": 0.5,
        "weight_lr_power": 1.5,
    },
    "ademamix": {
        "learning_rate": 0.01,
        "b1": 0.85,
        "b2": 0.99,
        "b3": 0.995,
        "alpha": 3.0,
        "b3_warmup": 20,
        "alpha_warmup": 30,
        "eps": 1e-7,
        "weight_decay": 1e-3,
    },
    "nadamw": {"learning_rate": 0.01, "b1": 0.85, "b2": 0.99, "eps": 1e-7, "weight_decay": 1e-3},
    "cautious_adamw": {
        "learning_rate": 0.01,
        "b1": 0.8,
        "b2": 0.99,
        "eps": 1e-7,
        "weight_decay": 1e-3,
    },
    "cautious_lion": {"learning_rate": 0.003, "b1": 0.85, "b2": 0.98, "weight_decay": 0.01},
    "mars": {
        "learning_rate": 0.01,
        "b1": 0.9,
        "b2": 0.98,
        "gamma": 0.05,
        "eps": 1e-7,
        "weight_decay": 1e-3,
        "optimize_1d": True,
    },
    # min_ndim_triangular=1: the kit's 1-D problems get a triangular factor; a seed of its own.
    "kron": {
        "learning_rate": 0.01,
        "b1": 0.8,
        "weight_decay": 1e-3,
        "min_ndim_triangular": 1,
        "preconditioner_lr": 0.2,
        "preconditioner_init_scale": 2.0,
        "precond_damping": 1e-3,
        "seed": 7,
    },
    # Most properties step a 2 × 3 matrix (two-sided SOAP, a refresh every 3 steps); the reference
    # problem is a vector (SOAP's Adam in the standard basis, its first-step skip included).
    "soap": {
        "learning_rate": 0.02,
        "b1": 0.9,
        "b2": 0.95,
        "weight_decay": 0.05,
        "precondition_frequency": 3,
    },
}


@pytest.mark.parametrize("name", NAMES)
def test_passes_the_conformance_kit_against_its_numpy_rule(name):
    """Every property of jaxopt_lab.testing, the reference being the slides' rule in NumPy."""
    report = testing.check_optimizer(
        name, hyperparameters=CONFORMANCE[name], reference=REFERENCES[name]
    )
    report.assert_ok()
    assert not report.skipped, str(report)


def _params(dtype=jnp.float32):
    key1, key2, key3 = jax.random.split(jax.random.key(0), 3)
    return {
        "dense": {"kernel": jax.random.normal(key1, (4, 3), dtype), "bias": jnp.zeros(3, dtype)},
        "pair": (jax.random.normal(key2, (2,), dtype), jax.random.normal(key3, (), dtype)),
        "empty": {},
        "nothing": (),
    }


def _grads(params, step):
    """Deterministic, step-dependent gradients shaped like ``params``."""
    return jax.tree.map(lambda p: jnp.sin(p * (step + 1) + 0.3).astype(p.dtype), params)


def _run(optimizer, params, steps=5, jit=True):
    state = optimizer.init(params)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    for step in range(steps):
        updates, state = update(_grads(params, step), state, params)
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize("name", NAMES)
def test_same_result_with_and_without_jit(name):
    optimizer = jol.get_optimizer(name, learning_rate=LR)
    jitted, _ = _run(optimizer, _params(), jit=True)
    eager, _ = _run(optimizer, _params(), jit=False)
    chex.assert_trees_all_close(jitted, eager, rtol=1e-6, atol=1e-7)
    assert not np.allclose(jitted["dense"]["kernel"], _params()["dense"]["kernel"])


@pytest.mark.parametrize("name", NAMES)
def test_second_step_does_not_recompile(name):
    optimizer = jol.get_optimizer(name, learning_rate=LR)
    params = _params()
    traces = []

    def traced_update(grads, state, params):
        traces.append(1)  # runs once per trace, never when a compiled program is reused
        return optimizer.update(grads, state, params)

    update = jax.jit(traced_update)
    state = optimizer.init(params)
    for step in range(3):
        _, state = update(_grads(params, step), state, params)
    assert len(traces) == 1, "the state's types or shapes changed after a step"


@pytest.mark.parametrize("name", NAMES)
def test_keeps_pytree_structure_including_empty_containers(name):
    optimizer = jol.get_optimizer(name, learning_rate=LR)
    params = _params()
    new_params, state = _run(optimizer, params)
    chex.assert_trees_all_equal_shapes_and_dtypes(new_params, params)
    assert jax.tree.structure(new_params) == jax.tree.structure(params)
    assert jax.tree.structure(optimizer.init(params)) == jax.tree.structure(state)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("inject", [False, True])
def test_bfloat16_params_give_bfloat16_updates_and_state(name, inject):
    factory = jol.OPTIMIZERS[name]
    if inject:
        factory = optax.inject_hyperparams(factory, hyperparam_dtype=jnp.float32)
    optimizer = factory(learning_rate=LR)
    params = _params(jnp.bfloat16)
    state = optimizer.init(params)
    updates, state = jax.jit(optimizer.update)(_grads(params, 0), state, params)
    chex.assert_trees_all_equal_dtypes(updates, params)
    leaves = state.inner_state if inject else state
    if name == "soap":  # its statistics and bases stay float32 (eigh and QR need the precision)
        (soap_state,) = [
            s
            for s in jax.tree.leaves(leaves, is_leaf=lambda s: isinstance(s, jol.ScaleBySoapState))
            if isinstance(s, jol.ScaleBySoapState)
        ]
        float32 = jax.tree.leaves((soap_state.statistics, soap_state.bases))
        assert float32 and all(leaf.dtype == jnp.float32 for leaf in float32)
        leaves = (soap_state.mu, soap_state.nu)
    for leaf in jax.tree.leaves(leaves):
        if leaf.ndim > 0:  # step counters are int32 scalars; every moment follows the params
            assert leaf.dtype == jnp.bfloat16


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.complex64])
def test_non_float_params_are_refused_at_init_naming_leaf_dtype_and_fix(name, dtype):
    params = {"dense": {"kernel": jnp.ones((4, 3), jnp.float32), "bias": jnp.zeros(3, dtype)}}
    optimizer = jol.get_optimizer(name, learning_rate=LR)
    with pytest.raises(TypeError) as error:
        optimizer.init(params)
    message = str(error.value)
    assert "params['dense']['bias']" in message
    assert jnp.dtype(dtype).name in message
    assert "float32" in message
    with pytest.raises(TypeError, match="bias"):
        jax.jit(optimizer.init)(params)
    with pytest.raises(TypeError, match="bias"):
        optax.MultiSteps(optimizer, every_k_schedule=2).init(params)


@pytest.mark.parametrize("name", NAMES)
def test_inject_hyperparams_with_non_float_params_says_why(name):
    factory = optax.inject_hyperparams(jol.OPTIMIZERS[name])(learning_rate=LR)
    with pytest.raises(TypeError, match=r"params\['w'\] has dtype int32"):
        factory.init({"w": jnp.ones(3, jnp.int32)})
    # Complex params turn the injected hyperparameters complex before the state is made.
    with pytest.raises(ValueError, match="complex parameters, which these optimizers do not"):
        factory.init({"w": jnp.ones(3, jnp.complex64)})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_every_real_float_dtype_and_none_leaves_are_accepted(name, dtype):
    """float64 is covered by test_rules, which runs every optimizer under x64."""
    optimizer = jol.get_optimizer(name, learning_rate=LR)
    params = {"w": jnp.ones(3, dtype), "missing": None, "empty": {}}
    updates, _ = optimizer.update(params, optimizer.init(params), params)
    assert updates["w"].dtype == dtype
    assert updates["missing"] is None


@pytest.mark.parametrize("name", NAMES)
def test_inject_hyperparams_gives_the_same_result(name):
    direct, _ = _run(jol.get_optimizer(name, learning_rate=LR), _params())
    injected_opt = optax.inject_hyperparams(jol.OPTIMIZERS[name])(learning_rate=LR)
    injected, state = _run(injected_opt, _params())
    # float32 (1 − β) differs from Python's in the last bit: a few ulps after five steps.
    chex.assert_trees_all_close(direct, injected, rtol=1e-5, atol=1e-7)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(LR)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_learning_rates_with_inject_hyperparams(name):
    """A traced learning rate is not checked at build time and each lane uses its own."""
    learning_rates = jnp.array([0.0, 0.01, 0.02])

    def final_params(lr):
        optimizer = optax.inject_hyperparams(jol.OPTIMIZERS[name])(learning_rate=lr)
        return _run(optimizer, _params(), steps=2, jit=False)[0]

    batched = jax.vmap(final_params)(learning_rates)
    single = final_params(0.02)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[2], batched), single, rtol=1e-5)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[0], batched), _params())


@pytest.mark.parametrize("name", NAMES)
def test_chain_with_clipping_clips_before_the_optimizer(name):
    max_norm = 0.1
    chained = optax.chain(
        optax.clip_by_global_norm(max_norm), jol.get_optimizer(name, learning_rate=LR)
    )
    ours, _ = _run(chained, _params())

    optimizer = jol.get_optimizer(name, learning_rate=LR)
    params, state = _params(), None
    state = optimizer.init(params)
    for step in range(5):
        grads = _grads(params, step)
        factor = jnp.minimum(1.0, max_norm / optax.tree.norm(grads))
        grads = jax.tree.map(lambda g, factor=factor: g * factor, grads)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    chex.assert_trees_all_close(ours, params, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_schedule_as_learning_rate(name):
    """A schedule that is constant equals the constant; one that is zero freezes the params."""
    constant, _ = _run(jol.get_optimizer(name, learning_rate=LR), _params())
    scheduled, _ = _run(
        jol.get_optimizer(name, learning_rate=optax.constant_schedule(LR)), _params()
    )
    chex.assert_trees_all_close(constant, scheduled, rtol=1e-6)
    frozen, _ = _run(jol.get_optimizer(name, learning_rate=lambda count: 0.0 * count), _params())
    chex.assert_trees_all_close(frozen, _params())


# SOAP's first step only starts its statistics, so its second sees the same gradient again: the
# kernel's rotated entries along the null vector of G Gᵀ are rounding, which m/(√v + ε) turns
# into visible differences (tests/optimizers/test_soap.py measures it). Averaging the gradients
# two ways rounds them differently, so SOAP is compared in float64, where that stays ~1e-9.
FLOAT64_MULTISTEPS = ("soap",)


@pytest.mark.parametrize("name", NAMES)
def test_multisteps_equals_the_optimizer_on_averaged_gradients(name):
    if name in FLOAT64_MULTISTEPS:
        with jax.enable_x64(True):
            _check_multisteps(name, jnp.float64)
    else:
        _check_multisteps(name, jnp.float32)


def _check_multisteps(name, dtype):
    k = 2
    multi = optax.MultiSteps(jol.get_optimizer(name, learning_rate=LR), every_k_schedule=k)
    params = _params(dtype)
    state = multi.init(params)
    for step in range(2 * k):
        updates, state = jax.jit(multi.update)(_grads(params, step % k), state, params)
        params = optax.apply_updates(params, updates)

    optimizer = jol.get_optimizer(name, learning_rate=LR)
    expected = _params(dtype)
    plain_state = optimizer.init(expected)
    for _ in range(2):
        mean_grads = jax.tree.map(
            lambda a, b: (a + b) / 2, _grads(expected, 0), _grads(expected, 1)
        )
        updates, plain_state = optimizer.update(mean_grads, plain_state, expected)
        expected = optax.apply_updates(expected, updates)
    chex.assert_trees_all_close(params, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_building_block_composes_with_optax(name):
    """The η-free direction chained with clipping and a scheduled step runs and descends."""
    block = {
        "sgd": optax.identity,
        "momentum": jol.scale_by_momentum,
        "nesterov": jol.scale_by_nesterov,
        "adagrad": jol.scale_by_adagrad,
        "adam": jol.scale_by_adam,
        "rmsprop": jol.scale_by_rmsprop,
        "adadelta": jol.scale_by_adadelta,
        "nadam": jol.scale_by_nadam,
        "adamw": jol.scale_by_adam,
        "lion": jol.scale_by_lion,
        "muon": jol.scale_by_muon,
        "schedule_free_sgd": optax.identity,  # schedule-free's direction; η lives in its average
        "schedule_free_adamw": jol.scale_by_bias_corrected_rms,
        "ademamix": jol.scale_by_ademamix,
        "nadamw": jol.scale_by_nadamw,
        "cautious_adamw": lambda: jol.cautious(jol.scale_by_adam(), "direction"),
        "cautious_lion": lambda: jol.cautious(jol.scale_by_lion(), "direction"),
        "mars": jol.scale_by_mars,
        "kron": jol.scale_by_kron,
        "soap": jol.scale_by_soap,
    }[name]
    schedule = optax.cosine_decay_schedule(0.05, decay_steps=50)
    optimizer = optax.chain(
        optax.clip_by_global_norm(1.0), block(), jol.scale_by_learning_rate(schedule)
    )
    target = jnp.array([1.0, -2.0, 3.0])
    params = jnp.zeros(3)

    def loss(p):
        return jnp.sum((p - target) ** 2)

    state = optimizer.init(params)
    for _ in range(50):
        updates, state = optimizer.update(jax.grad(loss)(params), state, params)
        params = optax.apply_updates(params, updates)
    assert loss(params) < loss(jnp.zeros(3))


@pytest.mark.parametrize("name", NAMES)
def test_minimises_rosenbrock_in_two_dimensions(name):
    def rosenbrock(p):
        return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2

    start = jnp.array([-1.0, 1.5])
    learning_rate = {"adadelta": 1.0, "adagrad": 0.05, "sgd": 1e-4}.get(name, 1e-3)
    optimizer = jol.get_optimizer(name, learning_rate=learning_rate)
    params, state = start, optimizer.init(start)

    @jax.jit
    def step(params, state):
        updates, state = optimizer.update(jax.grad(rosenbrock)(params), state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(500):
        params, state = step(params, state)
    assert bool(jnp.all(jnp.isfinite(params)))
    assert rosenbrock(params) < 0.5 * rosenbrock(start)

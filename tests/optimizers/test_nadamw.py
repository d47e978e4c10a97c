"""NAdamW against its literal NumPy rule, ``optax.nadamw`` and ``torch.optim.NAdam``, in float64.

Every comparison runs ``STEPS`` = 100 steps from the same start on a tall matrix (5 × 3), a bias
vector (3,), a 4-D kernel (2 × 2 × 3 × 4) and a scalar, with gradients ∇L = tanh(θ − c) +
0.2 θ³ computed in NumPy at the current parameters and handed alike to both sides, and asks
|θ − θ_ref| ≤ ATOL + RTOL |θ_ref| at every step, RTOL = 1e-9, ATOL = 1e-12. The differences
seen are rounding (≤ 3e-16 against optax and the rule, ≤ 7e-15 against torch). The AlgoPerf
form (the default) has no installable package: it is compared with ``reference_nadamw`` below,
which writes mlcommons/algorithmic-efficiency's ``scale_by_nadam`` + ``add_decayed_weights`` +
learning rate literally.
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
from jaxopt_lab.optimizers.nadamw import ScaleByNadamwState, nadamw, scale_by_nadamw
from tests.optimizers import float64
from tests.reference import reference_nadamw

STEPS = 100
RTOL, ATOL = 1e-9, 1e-12
TORCH_REASON = "needs the torch extra: pip install 'jaxopt_lab[torch]'"
HYPER = {"learning_rate": 3e-3, "b1": 0.85, "b2": 0.99, "eps": 1e-8, "weight_decay": 0.1}

_rng = np.random.default_rng(11)
START = {
    "tall": _rng.normal(size=(5, 3)),
    "bias": _rng.normal(size=3),
    "kernel": _rng.normal(size=(2, 2, 3, 4)),
    "scalar": np.asarray(_rng.normal()),
}
TARGET = {name: _rng.normal(size=np.shape(leaf)) for name, leaf in START.items()}


def _grad(params):
    return float64.smooth_grad(params, TARGET)


# The literal rule ------------------------------------------------------------------------------


# Harness ---------------------------------------------------------------------------------------


def run_jax(optimizer, steps=STEPS):
    return float64.run_jax(optimizer, START, _grad, steps)[0]


def run_torch(make, steps=STEPS):
    """torch's trajectory, with torch's default dtype float64 for its scalar state
    (``mu_product`` is created in the default dtype, float32 otherwise)."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        params = {n: torch.nn.Parameter(torch.tensor(leaf)) for n, leaf in START.items()}

        def ours():
            return {n: p.detach().numpy().copy() for n, p in params.items()}

        optimizer, path = make(list(params.values())), [START]
        for _ in range(steps):
            grads = _grad(ours())
            for name, p in params.items():
                p.grad = torch.tensor(grads[name])
            optimizer.step()
            path.append(ours())
    finally:
        torch.set_default_dtype(default)
    return path


def run_numpy(steps=STEPS, **hyperparameters):
    paths = {
        name: reference_nadamw(
            lambda p, n=name: _grad({n: p})[n], START[name], steps, **hyperparameters
        )
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


# Against the references ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["algoperf", "optax", "torch"])
def test_each_variant_follows_the_literal_rule(variant):
    ours = run_jax(nadamw(**HYPER, variant=variant, momentum_decay=0.02))
    assert_paths_close(ours, run_numpy(**HYPER, variant=variant, momentum_decay=0.02))


def test_the_optax_variant_matches_optax_nadamw():
    ours = run_jax(nadamw(**HYPER, variant="optax"))
    assert_paths_close(ours, run_jax(optax.nadamw(**HYPER)))


def test_the_optax_variant_with_a_mask_matches_optax_nadamw_with_the_same_mask():
    def matrices(params):
        return {name: np.ndim(leaf) >= 2 for name, leaf in params.items()}

    ours = run_jax(nadamw(**HYPER, variant="optax", mask=matrices))
    assert_paths_close(ours, run_jax(optax.nadamw(**HYPER, mask=matrices)))
    # the bias and the scalar did not decay: without the mask they end elsewhere
    unmasked = run_jax(nadamw(**HYPER, variant="optax"))
    assert abs(ours[-1]["scalar"] - unmasked[-1]["scalar"]) > 1e-4
    np.testing.assert_allclose(ours[-1]["tall"], unmasked[-1]["tall"], rtol=1e-12)


@pytest.mark.parametrize("momentum_decay", [4e-3, 0.05])
def test_the_torch_variant_matches_torch_nadam_with_decoupled_weight_decay(momentum_decay):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    ours = run_jax(nadamw(**HYPER, variant="torch", momentum_decay=momentum_decay))
    theirs = run_torch(
        lambda p: torch.optim.NAdam(
            p,
            lr=HYPER["learning_rate"],
            betas=(HYPER["b1"], HYPER["b2"]),
            eps=HYPER["eps"],
            weight_decay=HYPER["weight_decay"],
            momentum_decay=momentum_decay,
            decoupled_weight_decay=True,
        )
    )
    assert_paths_close(ours, theirs)


def test_the_optax_variant_is_torch_nadam_without_its_momentum_schedule():
    """ψ = 1e9 makes 0.96^{tψ} = 0, so torch's μₜ is β₁ at every step: optax's form."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    ours = run_jax(nadamw(**HYPER, variant="optax"))
    theirs = run_torch(
        lambda p: torch.optim.NAdam(
            p,
            lr=HYPER["learning_rate"],
            betas=(HYPER["b1"], HYPER["b2"]),
            eps=HYPER["eps"],
            weight_decay=HYPER["weight_decay"],
            momentum_decay=1e9,
            decoupled_weight_decay=True,
        )
    )
    assert_paths_close(ours, theirs)


def test_the_variants_part_by_more_than_rounding():
    paths = {v: run_jax(nadamw(**HYPER, variant=v)) for v in ("algoperf", "optax", "torch")}
    assert _largest_difference(paths["algoperf"], paths["optax"]) > 1e-4
    assert _largest_difference(paths["optax"], paths["torch"]) > 1e-4


def test_the_first_look_ahead_of_each_variant():
    """At t = 1 with g = 1 (β₂ = ε = 0, so √v̂ = 1): the module docstring's 1.9, 1.47, 1.06."""
    b1 = 0.9
    mu1 = b1 * (1 - 0.5 * 0.96**4e-3)
    mu2 = b1 * (1 - 0.5 * 0.96**8e-3)
    expected = {
        "algoperf": 1 + b1,
        "optax": 1 + b1 / (1 + b1),
        "torch": 1 + mu2 * (1 - b1) / (1 - mu1 * mu2),
    }
    with jax.enable_x64(True):
        for variant, value in expected.items():
            tx = scale_by_nadamw(b1, b2=0.0, eps=0.0, variant=variant)
            direction, _ = tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
            assert float(direction[0]) == pytest.approx(value, rel=1e-12), variant


def test_optax_variant_without_decay_is_this_librarys_nadam():
    hyper = {k: v for k, v in HYPER.items() if k != "weight_decay"}
    ours = run_jax(nadamw(**hyper, weight_decay=0.0, variant="optax"))
    assert_paths_close(ours, run_jax(jol.nadam(**hyper)))


def test_weight_decay_is_multiplied_by_the_learning_rate_and_applied_to_the_old_parameters():
    params = {"w": jnp.array([2.0, -4.0])}
    zero = {"w": jnp.zeros(2)}
    tx = nadamw(learning_rate=0.1, weight_decay=0.5)
    updates, _ = tx.update(zero, tx.init(params), params)  # g = 0: the direction is 0
    chex.assert_trees_all_close(updates, {"w": -0.1 * 0.5 * params["w"]})


# The conformance kit ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["algoperf", "optax", "torch"])
def test_passes_the_conformance_kit_against_the_literal_rule(variant):
    hyper = {
        "learning_rate": 0.01,
        "b1": 0.85,
        "b2": 0.99,
        "eps": 1e-7,
        "weight_decay": 1e-3,
        "variant": variant,
        "momentum_decay": 0.01,
    }
    report = testing.check_optimizer(nadamw, hyperparameters=hyper, reference=reference_nadamw)
    report.assert_ok()
    assert not report.skipped, str(report)


# Hyperparameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameters", "words"),
    [
        ({"learning_rate": -1.0}, "learning_rate=-1.0"),
        ({"b1": 1.0}, "b1=1.0 is invalid: it must lie in [0, 1)"),
        ({"b2": -0.1}, "b2=-0.1"),
        ({"eps": -1e-8}, "eps=-1e-08"),
        ({"weight_decay": -0.01}, "weight_decay=-0.01"),
        ({"variant": "keras"}, "variant='keras' is invalid: it must be one of"),
        ({"momentum_decay": -4e-3}, "momentum_decay=-0.004"),
        ({"mu_dtype": jnp.int32}, "mu_dtype"),
        ({"nu_dtype": "int8"}, "nu_dtype"),
    ],
)
def test_bad_hyperparameters_are_refused_at_build_time(hyperparameters, words):
    with pytest.raises(ValueError) as error:
        nadamw(**hyperparameters)
    assert words in str(error.value)


# jit, vmap, inject_hyperparams -----------------------------------------------------------------


def _small_run(optimizer, steps=5, jit=True):
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.array([0.3, -0.2, 0.1])}
    state = optimizer.init(params)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    for step in range(steps):
        grads = jax.tree.map(lambda p, s=step: jnp.sin(3 * p + s) + p, params)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize("variant", ["algoperf", "torch"])
def test_jit_equals_eager(variant):
    jitted, _ = _small_run(nadamw(0.05, variant=variant), jit=True)
    eager, _ = _small_run(nadamw(0.05, variant=variant), jit=False)
    chex.assert_trees_all_close(jitted, eager, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("variant", ["algoperf", "torch"])
def test_vmap_over_learning_rates_equals_separate_runs(variant):
    """In float64, so that the lanes must agree with the separate runs to rounding."""
    rates = [0.01, 0.03, 0.1]

    def final(rate):
        tx = optax.inject_hyperparams(nadamw, static_args=("variant",))(
            learning_rate=rate, variant=variant
        )
        params, _ = _small_run(tx, jit=False)
        return params

    with jax.enable_x64(True):
        together = jax.jit(jax.vmap(final))(jnp.array(rates))
        for lane, rate in enumerate(rates):
            alone, _ = _small_run(nadamw(rate, variant=variant))
            chex.assert_trees_all_close(
                jax.tree.map(lambda x, i=lane: x[i], together), alone, rtol=1e-12, atol=1e-14
            )
        assert not np.allclose(together["w"][0], together["w"][2])


def test_a_mask_function_under_inject_hyperparams_is_a_static_argument():
    def matrices(params):
        return jax.tree.map(lambda p: p.ndim >= 2, params)

    with jax.enable_x64(True):  # injected hyperparameters are arrays: compare to rounding
        injected = optax.inject_hyperparams(nadamw, static_args=("mask",))(
            learning_rate=0.05, mask=matrices
        )
        ours, _ = _small_run(injected)
        plain, _ = _small_run(nadamw(0.05, mask=matrices))
        unmasked, _ = _small_run(nadamw(0.05))
    chex.assert_trees_all_close(ours, plain, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ours["b"], unmasked["b"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(ours["w"], unmasked["w"], rtol=1e-12)


def test_the_state_is_adams_plus_the_momentum_product():
    _, (state, *_) = _small_run(nadamw(0.05, variant="torch"), steps=3)
    assert isinstance(state, ScaleByNadamwState)
    assert int(state.count) == 3
    mu = [0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)) for t in (1, 2, 3)]
    assert float(state.mu_product) == pytest.approx(np.prod(mu), rel=1e-6)


# State precision -------------------------------------------------------------------------------


def test_bfloat16_moments_are_stored_in_bfloat16_and_still_train():
    target = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)

    def train(**dtypes):
        tx = nadamw(0.05, weight_decay=0.0, **dtypes)
        params = {"w": jnp.zeros((3, 4)), "b": jnp.ones(4)}

        def loss(p):
            return jnp.sum((p["w"] - target) ** 2) + jnp.sum(p["b"] ** 2)

        def step(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return (optax.apply_updates(p, u), s), loss(p)

        (params, state), losses = jax.lax.scan(step, (params, tx.init(params)), None, 200)
        return params, state[0], np.asarray(losses)

    params, state, losses = train(mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16)
    assert {x.dtype for x in jax.tree.leaves((state.mu, state.nu))} == {jnp.dtype(jnp.bfloat16)}
    assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}
    _, _, full = train()
    assert losses[-1] < 1e-2 * losses[0]
    assert losses[-1] < 10 * full[-1] + 1e-3
    _, _, first_only = train(mu_dtype="bfloat16")  # the usual saving: m only
    assert first_only[-1] < 10 * full[-1] + 1e-3


def test_a_bfloat16_second_moment_cannot_decay_stalls_at_one_half_and_inflates_the_step():
    """Constant g = 1, β₂ = 0.999. float32's v is 1 − β₂ᵗ. In bfloat16, β₂v rounds back to v (a
    relative change of 1e-3 is below bfloat16's half unit, 2⁻⁹), so v grows by the whole
    (1 − β₂)g² each step (faster than float32 at first), until that 1e-3 is itself below half a
    unit: at v = 0.5 (units of 2⁻⁸ there) v stops for good, and the step comes out
    √((1 − β₂ᵗ)/0.5) too large (1.38× after 3,000 steps)."""
    ones = jnp.ones(4)

    def trace(nu_dtype):
        tx = scale_by_nadamw(nu_dtype=nu_dtype)
        state, step, seen = tx.init(ones), jax.jit(tx.update), {}
        for t in range(1, 3001):
            direction, state = step(ones, state)
            if t in (300, 3000):
                seen[t] = (float(state.nu[0]), float(direction[0]))
        return seen

    full, low = trace(None), trace(jnp.bfloat16)
    assert full[3000][0] == pytest.approx(1 - 0.999**3000, rel=1e-4)
    assert full[3000][1] == pytest.approx(1.0, rel=1e-4)
    assert low[300][0] > 1.2 * full[300][0]  # no decay: v runs ahead (0.34 against 0.26)
    assert low[3000][0] == 0.5  # stalled
    assert low[3000][1] == pytest.approx((full[3000][0] / 0.5) ** 0.5, rel=1e-2)
    assert low[3000][1] > 1.3 * full[3000][1]

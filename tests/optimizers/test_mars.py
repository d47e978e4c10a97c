"""MARS against its literal NumPy rule (the authors' code) and ``pytorch_optimizer.MARS``.

Every trajectory test runs ``STEPS`` = 100 steps in float64 from one start on a pytree holding a
matrix (5 × 3), a bias (3,), a 4-D kernel (3, 3, 2, 4) and a scalar, with gradients
s (tanh(θ − c) + 0.2 θ³) computed in NumPy at the current parameters and handed alike to both
sides. The scales s make ‖c‖ cross 1 during the run on the kernel and stay above it on the
matrix, so both branches of the clipping are followed (``test_the_runs_clip_and_do_not_clip``).
Tolerance: |θ − θ_ref| ≤ 1e-12 + 1e-9 |θ_ref| over the whole trajectory (seen: rounding, at most
1e-15 against the NumPy rule and 3e-14 against ``pytorch_optimizer``; the authors' own
``mars.py`` run in torch float64 on this tree, outside the suite, is 1e-15 from this library).

- The NumPy rule ``reference_mars`` transcribes ``update_fn`` of the authors'
  ``MARS/optimizers/mars.py`` (github.com/AGI-Arena/MARS, is_approx=True) line by line; with
  ``eps_form="pytorch_optimizer"`` it takes ``pytorch_optimizer``'s denominator instead,
  (√(v + 1e-15) + ε)(1 − β₁ᵗ)/√(1 − β₂ᵗ): beside which leaves MARS takes, the one place the
  two codes differ.
- ``pytorch_optimizer.MARS`` (4.1.0, skipped without it): equal to this library at ε = 0 with
  the 1e-15 it adds under the root set to 0 (monkeypatched; where v is tiny that 1e-15 alone
  moves θ by 1e-9 relatively), and equal to the NumPy rule in its form at the default ε = 1e-8;
  its rule for which leaves MARS takes (ndim ≥ 2, where the authors take ndim == 2) through
  ``mars_mask``. Both of its code paths (foreach and the per-parameter loop) are run.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab import testing
from jaxopt_lab.optimizers.adamw import adamw
from jaxopt_lab.optimizers.mars import clip_to_unit_norm, mars, mars_labels, scale_by_mars
from tests.optimizers import float64
from tests.reference import reference_mars

STEPS = 100
RTOL, ATOL = 1e-9, 1e-12
TORCH_REASON = "needs pytorch-optimizer (the torch extra): pip install pytorch-optimizer==4.1.0"

_rng = np.random.default_rng(25)
START = {
    "matrix": _rng.normal(size=(5, 3)),
    "bias": _rng.normal(size=3),
    "kernel": _rng.normal(size=(3, 3, 2, 4)),
    "scalar": np.asarray(_rng.normal()),
}
TARGET = {name: _rng.normal(size=leaf.shape) for name, leaf in START.items()}
GRAD_SCALE = {"matrix": 1.0, "bias": 1.0, "kernel": 0.08, "scalar": 1.0}


def _grad(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """s ∇L(θ) of L = Σ log cosh(θ − c) + 0.05 Σ θ⁴, leaf by leaf, in NumPy float64."""
    return {
        name: GRAD_SCALE[name] * (np.tanh(p - TARGET[name]) + 0.2 * p**3)
        for name, p in params.items()
    }


def _at_least_2d(params: Any) -> Any:
    """``pytorch_optimizer``'s choice of MARS's leaves: every leaf with ndim ≥ 2."""
    return jax.tree.map(lambda p: np.ndim(p) >= 2, params)


# The literal rule ----------------------------------------------------------------------------


def reference_path(steps=STEPS, use_mars=None, **hyperparameters):
    """The NumPy rule on the pytree, leaf by leaf (the leaves are independent)."""
    choose = use_mars or {}
    per_leaf = {
        name: reference_mars(
            lambda theta, name=name: _grad({name: theta})[name],
            START[name],
            steps,
            use_mars=choose.get(name),
            **hyperparameters,
        )
        for name in START
    }
    return [{name: per_leaf[name][step] for name in START} for step in range(steps + 1)]


# Runners ---------------------------------------------------------------------------------------


def run_jax(optimizer: optax.GradientTransformation, steps: int = STEPS):
    """The trajectory [θ₀, …] of an optax transformation in float64."""
    return float64.run_jax(optimizer, START, _grad, steps)[0]


def run_pytorch_optimizer(steps: int = STEPS, root_eps: float | None = None, **kwargs):
    """The trajectory of ``pytorch_optimizer.MARS(**kwargs)`` in float64; ``root_eps``, when
    given, replaces the 1e-15 it adds to v under the root."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer", reason=TORCH_REASON)
    torch.set_num_threads(1)
    if root_eps is not None:
        base = pytorch_optimizer.base.optimizer.BaseOptimizer
        with pytest.MonkeyPatch.context() as patch:
            for name in ("apply_ams_bound", "apply_ams_bound_foreach"):
                rooted = functools.partial(getattr(base, name), exp_avg_sq_eps=root_eps)
                patch.setattr(pytorch_optimizer.MARS, name, staticmethod(rooted))
            return run_pytorch_optimizer(steps, **kwargs)
    params = {
        name: torch.nn.Parameter(torch.tensor(leaf, dtype=torch.float64))
        for name, leaf in START.items()
    }
    optimizer = pytorch_optimizer.MARS(list(params.values()), **kwargs)

    def ours():
        return {name: p.detach().numpy().copy() for name, p in params.items()}

    path = [START]
    for _ in range(steps):
        grads = _grad(ours())
        for name, p in params.items():
            p.grad = torch.tensor(grads[name], dtype=torch.float64)
        optimizer.step()
        path.append(ours())
    return path


def assert_paths_close(actual, expected, rtol=RTOL, atol=ATOL):
    assert len(actual) == len(expected) == STEPS + 1
    for name in START:
        a = np.stack([point[name] for point in actual])
        e = np.stack([point[name] for point in expected])
        assert not np.allclose(e[-1], e[0], rtol=1e-3), f"{name} did not move"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name)


def _biggest_difference(actual, expected):
    return max(
        float(np.max(np.abs(a[name] - e[name])))
        for a, e in zip(actual, expected, strict=True)
        for name in START
    )


# Against the literal rule (the authors' code) ---------------------------------------------------

# Non-default values everywhere, so that a wrong default or a swapped β cannot hide.
HYPER = {
    "learning_rate": 1e-2,
    "b1": 0.9,
    "b2": 0.98,
    "gamma": 0.05,
    "eps": 1e-8,
    "weight_decay": 0.05,
    "learning_rate_1d_factor": 0.5,
    "b1_1d": 0.85,
    "b2_1d": 0.9,
    "weight_decay_1d": 0.2,
}


@pytest.mark.parametrize("mars_type", ["adamw", "lion"])
@pytest.mark.parametrize("optimize_1d", [False, True])
def test_follows_the_authors_rule(mars_type, optimize_1d):
    hyper = {**HYPER, "mars_type": mars_type, "optimize_1d": optimize_1d}
    assert_paths_close(run_jax(mars(**hyper)), reference_path(**hyper))


def test_the_runs_clip_and_do_not_clip():
    """The reference runs above take both branches of c ← c / max(1, ‖c‖)."""
    seen = {}
    for name in ("matrix", "kernel"):
        clipped = []
        reference_mars(
            lambda theta, name=name: _grad({name: theta})[name],
            START[name],
            STEPS,
            **HYPER,
            use_mars=True,
            clipped=clipped,
        )
        seen[name] = (sum(clipped), len(clipped) - sum(clipped))
    assert seen["matrix"][0] == STEPS, seen
    assert 0 < seen["kernel"][0] < STEPS, seen


def test_follows_the_authors_rule_at_the_defaults():
    assert_paths_close(run_jax(mars()), reference_path())


def test_a_mask_and_a_schedule_are_followed():
    def schedule(count):
        return 1e-2 * (1.0 + count) ** -0.5

    choose = {"matrix": False, "bias": True, "kernel": True, "scalar": False}
    ours = run_jax(mars(**{**HYPER, "learning_rate": schedule}, mars_mask=choose))
    expected = reference_path(use_mars=choose, **{**HYPER, "learning_rate": schedule})
    assert_paths_close(ours, expected)


def test_the_adamw_leaves_follow_the_schedule_times_the_factor():
    def schedule(count):
        return 1e-2 * 0.98**count

    hyper = {**HYPER, "learning_rate": schedule, "learning_rate_1d_factor": 2.0}
    assert_paths_close(run_jax(mars(**hyper)), reference_path(**hyper))


# Against pytorch_optimizer.MARS -----------------------------------------------------------------


def _torch_kwargs(hyper):
    return {
        "lr": hyper["learning_rate"],
        "betas": (hyper["b1"], hyper["b2"]),
        "gamma": hyper["gamma"],
        "eps": hyper["eps"],
        "weight_decay": hyper["weight_decay"],
        "mars_type": hyper["mars_type"],
        "optimize_1d": hyper["optimize_1d"],
        "lr_1d": hyper["learning_rate_1d_factor"] * hyper["learning_rate"],
        "betas_1d": (hyper["b1_1d"], hyper["b2_1d"]),
        "weight_decay_1d": hyper["weight_decay_1d"],
    }


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("mars_type", ["adamw", "lion"])
@pytest.mark.parametrize("optimize_1d", [False, True])
def test_matches_pytorch_optimizer_at_eps_zero(foreach, mars_type, optimize_1d):
    """At ε = 0, and without the 1e-15 it adds under the root, its denominator is the authors'."""
    hyper = {**HYPER, "eps": 0.0, "mars_type": mars_type, "optimize_1d": optimize_1d}
    theirs = run_pytorch_optimizer(root_eps=0.0, foreach=foreach, **_torch_kwargs(hyper))
    ours = run_jax(mars(**hyper, mars_mask=None if optimize_1d else _at_least_2d))
    assert_paths_close(ours, theirs)


@pytest.mark.parametrize("mars_type", ["adamw", "lion"])
def test_pytorch_optimizer_at_the_default_eps_is_the_rule_with_its_denominator(mars_type):
    hyper = {**HYPER, "mars_type": mars_type, "optimize_1d": False}
    theirs = run_pytorch_optimizer(**_torch_kwargs(hyper))
    choose = {name: np.ndim(leaf) >= 2 for name, leaf in START.items()}
    expected = reference_path(use_mars=choose, eps_form="pytorch_optimizer", **hyper)
    assert_paths_close(theirs, expected)
    # and its ε/√(1 − β₂ᵗ) in place of the authors' ε is visible (6e-7 for "adamw"; 2e-9 for
    # "lion", through its AdamW leaves only)
    ours = run_jax(mars(**hyper, mars_mask=_at_least_2d))
    assert _biggest_difference(ours, theirs) > 1e-9


def test_pytorch_optimizer_defaults_are_the_defaults_here():
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer", reason=TORCH_REASON)
    theirs = inspect.signature(pytorch_optimizer.MARS).parameters
    ours = inspect.signature(mars).parameters
    pairs = {
        "lr": "learning_rate",
        "gamma": "gamma",
        "eps": "eps",
        "weight_decay": "weight_decay",
        "mars_type": "mars_type",
        "optimize_1d": "optimize_1d",
        "weight_decay_1d": "weight_decay_1d",
    }
    for their_name, our_name in pairs.items():
        assert theirs[their_name].default == ours[our_name].default, their_name
    their_factor = theirs["lr_1d"].default / theirs["lr"].default
    assert their_factor == ours["learning_rate_1d_factor"].default
    assert theirs["betas"].default == (ours["b1"].default, ours["b2"].default)
    assert theirs["betas_1d"].default == (ours["b1_1d"].default, ours["b2_1d"].default)


# The pieces ------------------------------------------------------------------------------------


def test_default_labels_give_exactly_two_dimensional_leaves_to_mars():
    params = {name: jnp.asarray(leaf) for name, leaf in START.items()}
    assert mars_labels()(params) == {
        "matrix": "mars",
        "bias": "adamw",
        "kernel": "adamw",
        "scalar": "adamw",
    }
    assert set(jax.tree.leaves(mars_labels(optimize_1d=True)(params))) == {"mars"}
    assert mars_labels(_at_least_2d)(params)["kernel"] == "mars"
    assert mars_labels({"matrix": False, "bias": True, "kernel": False, "scalar": False})(
        params
    ) == {"matrix": "adamw", "bias": "mars", "kernel": "adamw", "scalar": "adamw"}


@pytest.mark.parametrize("scale", [0.3, 7.0])
def test_clipping_divides_by_the_norm_only_above_one(scale):
    c = scale * jnp.arange(1.0, 25.0).reshape(2, 3, 4) / jnp.linalg.norm(jnp.arange(1.0, 25.0))
    expected = c if scale <= 1 else c / scale
    chex.assert_trees_all_close(clip_to_unit_norm(c), expected, rtol=1e-6)


def test_gamma_zero_under_norm_one_is_adamw():
    """γ = 0 and ‖g‖ < 1: no correction, no clipping, so MARS-AdamW is AdamW."""
    params = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)}
    ours, theirs = mars(1e-2, gamma=0.0, weight_decay=0.1), adamw(1e-2, 0.95, 0.99, 1e-8, 0.1)
    ours_state, theirs_state = ours.init(params), theirs.init(params)
    for step in range(5):
        grads = jax.tree.map(lambda p, step=step: 0.1 * jnp.sin(p * (step + 1)), params)
        ours_update, ours_state = ours.update(grads, ours_state, params)
        theirs_update, theirs_state = theirs.update(grads, theirs_state, params)
        chex.assert_trees_all_close(ours_update, theirs_update, rtol=1e-6, atol=1e-9)


def test_the_first_step_amplifies_the_gradient_as_the_authors_code():
    """g₀ = 0: c₁ = (1 + γβ₁/(1 − β₁)) g₁, 1.475 g₁ at the defaults (under norm 1, unclipped)."""
    g = {"w": jnp.full((2, 2), 0.1)}
    direction = scale_by_mars(mars_type="lion")
    _, state = direction.update(g, direction.init(g))
    chex.assert_trees_all_close(state.mu["w"], 0.05 * 1.475 * g["w"], rtol=1e-6)


def test_state_holds_g_previous_and_no_v_for_lion():
    params = {"w": jnp.ones((2, 3))}
    for mars_type, has_nu in (("adamw", True), ("lion", False)):
        transform = scale_by_mars(mars_type=mars_type)
        grads = {"w": jnp.full((2, 3), 0.5)}
        _, state = transform.update(grads, transform.init(params))
        assert (state.nu is not None) == has_nu
        chex.assert_trees_all_equal(state.last_grad, grads)
        assert int(state.count) == 1


def _tree():
    keys = jax.random.split(jax.random.key(0), 3)
    return {
        "kernel": jax.random.normal(keys[0], (4, 3)),
        "bias": jax.random.normal(keys[1], (3,)),
        "conv": jax.random.normal(keys[2], (2, 2, 1, 3)),
    }


def _run(optimizer, params, steps=4, jit=True):
    state = optimizer.init(params)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    for step in range(steps):
        grads = jax.tree.map(lambda p, step=step: jnp.sin(p * (step + 1) + 0.3), params)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params


@pytest.mark.parametrize("mars_type", ["adamw", "lion"])
def test_jit_equals_eager(mars_type):
    optimizer = mars(1e-2, mars_type=mars_type, weight_decay=0.1)
    jitted, eager = _run(optimizer, _tree()), _run(optimizer, _tree(), jit=False)
    chex.assert_trees_all_close(jitted, eager, rtol=1e-6, atol=1e-7)
    assert not np.allclose(jitted["kernel"], _tree()["kernel"])


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_vmap_over_learning_rates_equals_separate_runs(factor):
    rates = jnp.array([0.0, 1e-2, 3e-2])

    def make(rate):
        return optax.inject_hyperparams(
            lambda learning_rate: mars(learning_rate, learning_rate_1d_factor=factor)
        )(rate)

    vmapped = jax.vmap(lambda rate: _run(make(rate), _tree()))(rates)
    for lane, rate in enumerate(rates):
        separate = _run(mars(float(rate), learning_rate_1d_factor=factor), _tree())
        chex.assert_trees_all_close(
            jax.tree.map(lambda x, lane=lane: x[lane], vmapped), separate, rtol=1e-5, atol=1e-7
        )
    # η = 0 freezes every leaf, the AdamW ones too; the others move with η
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[0], vmapped), _tree())
    for name in _tree():
        assert not np.allclose(vmapped[name][1], vmapped[name][2]), name


def test_inject_hyperparams_of_every_default_and_a_static_mask():
    params = _tree()
    injected = optax.inject_hyperparams(mars, static_args=("mars_mask", "mars_type"))(
        learning_rate=1e-2, mars_mask=_at_least_2d, mars_type="lion"
    )
    plain = mars(1e-2, mars_mask=_at_least_2d, mars_type="lion")
    chex.assert_trees_all_close(_run(injected, params), _run(plain, params), rtol=1e-5, atol=1e-7)


# The conformance kit ---------------------------------------------------------------------------

KIT = {
    "learning_rate": 0.01,
    "b1": 0.9,
    "b2": 0.98,
    "gamma": 0.05,
    "eps": 1e-7,
    "weight_decay": 1e-3,
}


@pytest.mark.parametrize(
    "hyperparameters",
    [
        # the kit's problems are vectors: optimize_1d sends them through MARS
        {**KIT, "optimize_1d": True},
        {**KIT, "optimize_1d": True, "mars_type": "lion", "learning_rate": 0.003},
        # and without it through the AdamW of the 1-D leaves
        {**KIT, "learning_rate_1d_factor": 0.5, "b1_1d": 0.85, "weight_decay_1d": 0.01},
    ],
    ids=["mars-adamw", "mars-lion", "adamw-leaves"],
)
def test_passes_the_conformance_kit_against_its_numpy_rule(hyperparameters):
    report = testing.check_optimizer(
        mars, hyperparameters=hyperparameters, reference=reference_mars
    )
    report.assert_ok()


# Hyperparameter checks -------------------------------------------------------------------------

BAD = [
    ({"learning_rate": -1.0}, "learning_rate=-1.0"),
    ({"b1": 1.0}, "b1=1.0 is invalid: it must lie in [0, 1)"),
    ({"b2": -0.1}, "b2=-0.1"),
    ({"gamma": -0.5}, "gamma=-0.5 is invalid: it must be a finite number >= 0"),
    ({"gamma": math.inf}, "gamma=inf"),
    ({"eps": -1e-8}, "eps=-1e-08"),
    ({"weight_decay": math.nan}, "weight_decay=nan"),
    ({"mars_type": "shampoo"}, "mars_type='shampoo' is invalid: it must be one of"),
    ({"optimize_1d": 1}, "optimize_1d=1 is invalid: it must be True or False"),
    ({"learning_rate_1d_factor": -0.5}, "learning_rate_1d_factor=-0.5"),
    ({"b1_1d": 1.0}, "b1_1d=1.0"),
    ({"b2_1d": 2.0}, "b2_1d=2.0"),
    ({"weight_decay_1d": -0.1}, "weight_decay_1d=-0.1"),
]


@pytest.mark.parametrize(("hyperparameters", "words"), BAD)
def test_bad_value_is_refused_naming_parameter_value_and_range(hyperparameters, words):
    with pytest.raises(ValueError) as error:
        mars(**hyperparameters)
    assert words in str(error.value)


def test_integer_parameters_are_refused_at_init():
    with pytest.raises(TypeError, match="integer"):
        mars().init({"w": jnp.ones((2, 2), jnp.int32)})

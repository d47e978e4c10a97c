"""The conformance kit: each kind of broken optimizer fails the property that names its bug.

The optimizers below are written from scratch as ``init``/``update`` pairs, one bug each; a
correct one passes everything. Each case lists exactly which properties its bug trips.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab import testing
from tests.reference import reference_adam

LR = {"learning_rate": 1e-2}


def sgd_from_scratch(learning_rate):
    """θ ← θ − η g, correct."""

    def init(params):
        return optax.EmptyState()

    def update(updates, state, params=None):
        return jax.tree.map(lambda g: -learning_rate * g, updates), state

    return optax.GradientTransformation(init, update)


def sgd_rule(grad, theta, steps, learning_rate):
    path = [theta]
    for _ in range(steps):
        theta = theta - learning_rate * grad(theta)
        path.append(theta)
    return path


def adam_without_bias_correction(learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam's moments, but m / (√v + ε) instead of m̂ / (√v̂ + ε)."""

    def init(params):
        return jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params)

    def update(updates, state, params=None):
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state[0], updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state[1], updates)
        step = jax.tree.map(lambda m, v: -learning_rate * m / (jnp.sqrt(v) + eps), mu, nu)
        return step, (mu, nu)

    return optax.GradientTransformation(init, update)


def float32_updates(learning_rate):
    """SGD that computes in float32 and forgets to cast back."""

    def init(params):
        return optax.EmptyState()

    def update(updates, state, params=None):
        return jax.tree.map(lambda g: -learning_rate * g.astype(jnp.float32), updates), state

    return optax.GradientTransformation(init, update)


def float_count(learning_rate):
    """SGD with a step count that starts int32 and becomes float32 after the first step."""

    def init(params):
        return {"count": jnp.zeros([], jnp.int32)}

    def update(updates, state, params=None):
        new_state = {"count": (state["count"] + 1).astype(jnp.float32)}
        return jax.tree.map(lambda g: -learning_rate * g, updates), new_state

    return optax.GradientTransformation(init, update)


def capped_learning_rate(learning_rate):
    """SGD that caps η at 0.1 with a Python ``if`` on the hyperparameter."""

    def init(params):
        return optax.EmptyState()

    def update(updates, state, params=None):
        step = 0.1 if learning_rate > 0.1 else learning_rate
        return jax.tree.map(lambda g: -step * g, updates), state

    return optax.GradientTransformation(init, update)


def one_array_momentum(learning_rate, momentum=0.9):
    """Momentum that assumes the params are one array."""

    def init(params):
        return jnp.zeros_like(params)

    def update(updates, state, params=None):
        velocity = momentum * state + updates
        return -learning_rate * velocity, velocity

    return optax.GradientTransformation(init, update)


def shared_moments(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """Adam whose init hands back one zeros tree as both moments."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return zeros, zeros

    def update(updates, state, params=None):
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state[0], updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state[1], updates)
        step = jax.tree.map(lambda m, v: -learning_rate * m / (jnp.sqrt(v) + eps), mu, nu)
        return step, (mu, nu)

    return optax.GradientTransformation(init, update)


# factory, reference, the properties it must fail, the property to read, words of its message
BROKEN = {
    "no bias correction": (
        adam_without_bias_correction,
        "adam",
        {"reference"},
        "reference",
        ["step 1, leaf [0]:", "vs reference", "bias corrections"],
    ),
    "float32 updates for bfloat16": (
        float32_updates,
        None,
        {"update_dtype"},
        "update_dtype",
        ["for bfloat16 gradients the updates are float32[2,3]", ".astype(g.dtype)"],
    ),
    "state dtype changes": (
        float_count,
        None,
        {"no_recompilation", "state_dtypes", "parabola", "rosenbrock"},
        "state_dtypes",
        ["after step 1 state['count'] was int32[] and became float32[]", "safe_increment"],
    ),
    "hyperparameter in Python control flow": (
        capped_learning_rate,
        None,
        {"inject_hyperparams", "vmap_learning_rate"},
        "inject_hyperparams",
        ["TracerBoolConversionError", "use jnp.where / keep hyperparameters out of Python"],
    ),
    "one array as two moments": (
        shared_moments,
        None,
        {"donation"},
        "donation",
        ["init returns one array as both state[0] and state[1]", "once for each moment"],
    ),
    "one array only": (
        one_array_momentum,
        None,
        {"pytrees"},
        "pytrees",
        ["update raised TypeError", "jax.tree.map", "never assuming a single array"],
    ),
}


def test_a_correct_sgd_written_from_scratch_passes_every_property():
    report = testing.check_optimizer(sgd_from_scratch, LR, reference=sgd_rule)
    report.assert_ok()
    assert [r.status for r in report.results] == ["PASS"] * len(testing.PROPERTY_NAMES)


@pytest.mark.parametrize("bug", list(BROKEN))
def test_a_broken_optimizer_fails_the_property_of_its_bug_with_the_fix(bug):
    factory, reference, expected, name, words = BROKEN[bug]
    report = testing.check_optimizer(factory, LR, reference=reference)
    assert set(report.failed) == expected, str(report)
    message = report[name].message
    for word in words:
        assert word in message
    assert "Fix: " in message
    with pytest.raises(AssertionError, match=name) as error:
        report.assert_ok()
    assert str(report[name]) in str(error.value)


def test_python_control_flow_is_caught_under_vmap_too():
    report = testing.check_optimizer(capped_learning_rate, LR, only=["vmap_learning_rate"])
    assert report.failed == ["vmap_learning_rate"]
    message = report["vmap_learning_rate"].message
    assert "use jnp.where / keep hyperparameters out of Python control flow" in message


def test_the_count_changing_type_is_named_where_it_recompiles():
    report = testing.check_optimizer(float_count, LR, only=["no_recompilation", "parabola"])
    assert "traced 2 times in 3 steps" in report["no_recompilation"].message
    assert "cannot run as one compiled jax.lax.fori_loop" in report["parabola"].message


def test_a_ready_transformation_skips_the_hyperparameter_properties_saying_why():
    only = ["jit", "inject_hyperparams", "vmap_learning_rate", "parabola"]
    report = testing.check_optimizer(optax.sgd(0.01), only=only)
    assert report.ok and report.skipped == ["inject_hyperparams", "vmap_learning_rate"]
    assert "pass its factory" in report["inject_hyperparams"].message
    assert "(as given)" in report["parabola"].message


def test_the_report_has_a_header_and_one_line_per_property():
    report = testing.check_optimizer("adam", LR, reference="sgd", only=["jit", "reference"])
    header, *lines = str(report).splitlines()
    assert header == "adam(learning_rate=0.01) against sgd: 1 passed, 1 failed, 0 skipped"
    assert [line.split()[:2] for line in lines] == [["PASS", "jit"], ["FAIL", "reference"]]
    assert not report.ok and report.failed == ["reference"]


def test_skip_reports_the_reason_given():
    report = testing.check_optimizer(
        "sgd", only=["rosenbrock"], skip={"rosenbrock": "a sign-based step needs a schedule"}
    )
    assert report.ok and report["rosenbrock"].message == "a sign-based step needs a schedule"


def test_without_hyperparameters_the_learning_rate_is_the_default_or_1e_2():
    assert testing.check_optimizer("adam", only=[]).label == "adam(learning_rate=0.001)"
    assert testing.check_optimizer("sgd", only=[]).label == "sgd(learning_rate=0.01)"


def test_a_reference_that_does_not_move_fails_instead_of_agreeing_vacuously():
    report = testing.check_optimizer(
        sgd_from_scratch, {"learning_rate": 0.0}, reference=sgd_rule, only=["reference"]
    )
    assert "did not move in 50 steps" in report["reference"].message


def test_a_reference_rule_is_followed_for_the_given_steps_and_tolerance():
    hyperparameters = {"learning_rate": 0.05, "b1": 0.8}
    report = testing.check_optimizer(
        "adam", hyperparameters, reference=reference_adam, steps=80, rtol=1e-9, only=["reference"]
    )
    assert report.ok, str(report)
    assert "for 80 steps in float64 (rtol 1e-09)" in report["reference"].message


def test_names_resolve_to_the_registry_optax_and_any_module():
    assert testing.resolve("adam") is jol.adam
    assert testing.resolve("optax.lion") is optax.lion
    assert testing.resolve("optax.contrib.muon") is optax.contrib.muon
    assert testing.resolve("optax.muon") is optax.contrib.muon
    assert testing.resolve("tests.reference:reference_adam") is reference_adam
    with pytest.raises(ValueError, match=r"'optax\.lion'"):
        testing.resolve("adamm")
    with pytest.raises(ValueError, match=r"neither optax nor optax\.contrib has 'lionn'"):
        testing.resolve("optax.lionn")


def test_numpy_rules_are_told_from_factories_by_their_first_parameters():
    assert testing.is_numpy_rule(reference_adam)
    assert testing.is_numpy_rule(lambda grad, theta, steps, learning_rate: [theta])
    assert not testing.is_numpy_rule(jol.adam)
    assert not testing.is_numpy_rule(optax.adam)
    assert not testing.is_numpy_rule(optax.adam(1e-3))
    assert not testing.is_numpy_rule("adam")


def test_a_numpy_rule_is_refused_as_the_optimizer():
    with pytest.raises(ValueError, match="can only be the reference"):
        testing.check_optimizer(reference_adam)


def test_unknown_hyperparameters_are_an_error_naming_what_is_accepted():
    with pytest.raises(ValueError, match="it accepts learning_rate"):
        testing.check_optimizer(sgd_from_scratch, {"lr": 0.1})
    with pytest.raises(ValueError, match="optimizer 'adam' has no hyperparameter 'lr'"):
        testing.check_optimizer("adam", {"lr": 0.1})
    with pytest.raises(ValueError, match="unknown property jt; the properties are jit"):
        testing.check_optimizer("adam", only=["jt"])


def test_an_unwritten_update_says_to_fill_it_in():
    def unfinished(learning_rate=0.1):
        def update_fn(updates, state, params=None):
            raise NotImplementedError("write the update")

        return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)

    report = testing.check_optimizer(unfinished, only=("jit", "reference"), reference="sgd")
    assert set(report.failed) == {"jit", "reference"}
    assert str(report).count("fill in the code that raises NotImplementedError") == 2

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
from tests.reference import reference_adam, reference_momentum

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


def momentum_eta_outside(learning_rate, momentum=0.9):
    """optax's and torch's momentum, η outside the velocity: u ← γ u + g; θ ← θ − η u.

    The same trajectory as the slides' v ← γ v + η g; θ ← θ − v for a constant η only.
    """

    def init(params):
        return jax.tree.map(jnp.zeros_like, params)

    def update(updates, state, params=None):
        velocity = jax.tree.map(lambda u, g: momentum * u + g, state, updates)
        return jax.tree.map(lambda u: -learning_rate * u, velocity), velocity

    return optax.GradientTransformation(init, update)


def nesterov_eta_outside(learning_rate, momentum=0.9):
    """optax's Nesterov, η outside the velocity: u ← γ u + g; φ ← φ − η (γ u + g)."""

    def init(params):
        return jax.tree.map(jnp.zeros_like, params)

    def update(updates, state, params=None):
        velocity = jax.tree.map(lambda u, g: momentum * u + g, state, updates)
        step = jax.tree.map(lambda u, g: -learning_rate * (momentum * u + g), velocity, updates)
        return step, velocity

    return optax.GradientTransformation(init, update)


def ignores_learning_rate(learning_rate):
    """SGD at a rate fixed inside the factory, whatever it is given."""
    del learning_rate
    return optax.sgd(0.01)


def eta_on_weight_decay_only(learning_rate):
    """SGD at a fixed 0.01 whose weight decay is the learning rate: η changes the update, but
    only part of it."""
    return optax.chain(optax.add_decayed_weights(learning_rate), optax.sgd(0.01))


def b1_read_as_python_float(learning_rate, b1=0.9):
    """An EMA of gradients that falls back to β = 0.5 unless b1 is a Python float."""
    beta = b1 if isinstance(b1, float) else 0.5

    def init(params):
        return jax.tree.map(jnp.zeros_like, params)

    def update(updates, state, params=None):
        mu = jax.tree.map(lambda m, g: beta * m + (1 - beta) * g, state, updates)
        return jax.tree.map(lambda m: -learning_rate * m, mu), mu

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
        [
            "learning_rate cannot be injected: with learning_rate alone injected",
            "TracerBoolConversionError",
            "use jnp.where / keep hyperparameters out of Python",
        ],
    ),
    "one array as two moments": (
        shared_moments,
        None,
        {"donation"},
        "donation",
        ["init returns one array as both state[0] and state[1]", "once for each moment"],
    ),
    "learning rate ignored": (
        ignores_learning_rate,
        None,
        # optax.sgd(0.01) diverges on Rosenbrock: every rate of the grid is the same rate.
        {"inject_hyperparams", "vmap_learning_rate", "rosenbrock"},
        "vmap_learning_rate",
        ["the learning rate is ignored: learning_rate=0.005 and 0.02 give the same updates"],
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


@pytest.mark.parametrize(
    ("factory", "reference"),
    [(momentum_eta_outside, "momentum"), (nesterov_eta_outside, "nesterov")],
)
def test_eta_outside_the_velocity_parts_from_the_reference_under_a_changing_rate(
    factory, reference
):
    """optax's form of momentum (η outside the velocity) coincides with the slides' at a
    constant η; the reference comparison must also run under a changing η and say so."""
    hyperparameters = {"learning_rate": 0.01, "momentum": 0.8}
    report = testing.check_optimizer(factory, hyperparameters, reference, only=["reference"])
    assert report.failed == ["reference"], str(report)
    message = report["reference"].message
    assert f"follows {reference} at a constant η, but under a changing η" in message
    assert "differs from it from step 11 on: step 11, leaf [" in message  # η changes at 10
    assert "With a constant η both rules coincide" in message
    assert "probably outside the velocity (u ← γ u + g; θ ← θ − η_t u)" in message

    right = testing.check_optimizer(reference, hyperparameters, factory, only=["reference"])
    assert right.failed == ["reference"]  # the same difference, seen from the other side
    itself = testing.check_optimizer(reference, hyperparameters, reference, only=["reference"])
    assert itself.ok and "at a constant η and under a changing one" in itself["reference"].message


def test_a_numpy_rule_gets_the_changing_rate_as_a_schedule_if_it_takes_one():
    report = testing.check_optimizer(
        momentum_eta_outside,
        {"learning_rate": 0.01, "momentum": 0.8},
        reference_momentum,
        only=["reference"],
    )
    assert "from step 11 on" in report["reference"].message
    # sgd_rule multiplies by learning_rate: a rule that takes no schedule is followed at a
    # constant η only, and the PASS line says so.
    report = testing.check_optimizer(sgd_from_scratch, LR, reference=sgd_rule, only=["reference"])
    assert report.ok
    assert report["reference"].message.endswith(
        "not under a changing η: the reference raised TypeError: unsupported operand type(s) "
        "for *: 'function' and 'float' when given a schedule"
    )


def test_a_reference_without_a_learning_rate_to_change_says_what_it_checked():
    report = testing.check_optimizer(
        momentum_eta_outside,
        {"learning_rate": 0.01, "momentum": 0.8},
        reference=jol.momentum(0.01, 0.8),
        only=["reference"],
    )
    assert report.ok
    assert report["reference"].message.endswith(
        "not under a changing η: the reference is a ready transformation, whose η cannot change"
    )


def test_a_learning_rate_applied_to_part_of_the_update_fails_where_the_reference_is_linear():
    only = ["inject_hyperparams", "vmap_learning_rate"]
    report = testing.check_optimizer(eta_on_weight_decay_only, LR, reference="sgd", only=only)
    assert report.failed == only, str(report)
    for name in only:
        message = report[name].message
        assert "the learning rate is not applied to the whole update" in message
        assert "must be 2× the one at" in message and "as the reference sgd's is" in message
    # Without a reference nothing says the first step must be ∝ η; the PASS line reports it.
    report = testing.check_optimizer(eta_on_weight_decay_only, LR, only=only)
    assert report.ok, str(report)
    assert "the first not in proportion to it" in report["vmap_learning_rate"].message


def test_a_correct_optimizer_reports_that_its_first_update_scales_with_eta():
    report = testing.check_optimizer(
        sgd_from_scratch, LR, reference=sgd_rule, only=["inject_hyperparams", "vmap_learning_rate"]
    )
    assert report.ok
    assert "the first update scales with η (2× at 0.02)" in report["vmap_learning_rate"].message


def test_the_injected_hyperparameter_that_changes_the_rule_is_named():
    report = testing.check_optimizer(
        b1_read_as_python_float, {"learning_rate": 0.01, "b1": 0.9}, only=["inject_hyperparams"]
    )
    assert report.failed == ["inject_hyperparams"]
    assert report["inject_hyperparams"].message.startswith(
        "with b1 alone injected (a float32 array instead of the Python number given), step 1:"
    )


def test_an_integer_the_factory_needs_as_a_python_number_stays_static():
    """optax.adafactor compares min_dim_size_to_factor with shapes in Python: what
    inject_hyperparams(static_args=...) is for, not the optimizer's fault."""
    report = testing.check_optimizer("optax.adafactor", only=["inject_hyperparams"])
    assert report.ok, str(report)
    message = report["inject_hyperparams"].message
    assert "min_dim_size_to_factor kept static" in message
    assert "static_args=('min_dim_size_to_factor',)" in message
    assert "learning_rate, decay_rate, decay_offset" in message


def repeated_sgd(learning_rate=0.01, momentum=0.5, repeats=2, capped=False):
    """SGD whose step is taken ``repeats`` times (a Python ``range``: the integer must stay
    static); with ``capped``, η is also read in a Python ``if`` (it cannot be injected)."""

    def init(params):
        return optax.EmptyState()

    def update(updates, state, params=None):
        step = learning_rate
        if capped:
            step = 0.1 if learning_rate > 0.1 else learning_rate
        for _ in range(repeats):
            updates = jax.tree.map(lambda g: -step * (1 - momentum) * g, updates)
        return updates, state

    return optax.GradientTransformation(init, update)


@pytest.mark.parametrize("capped", [False, True])
def test_an_integer_kept_static_beside_a_float_that_cannot_be_injected(capped):
    """The floats are injected together first; the search one by one names the float that
    fails as well as the integer that stays static, whichever way it goes."""
    hyperparameters = {"learning_rate": 0.01, "momentum": 0.5, "repeats": 2, "capped": capped}
    report = testing.check_optimizer(repeated_sgd, hyperparameters, only=["inject_hyperparams"])
    message = report["inject_hyperparams"].message
    if capped:
        assert report.failed == ["inject_hyperparams"]
        assert message.startswith("learning_rate cannot be injected: with learning_rate alone")
    else:
        assert report.ok, str(report)
        assert "repeats kept static" in message and "static_args=('repeats',)" in message
        assert "same updates and state with learning_rate, momentum injected" in message


def test_a_state_that_keeps_the_params_can_be_donated():
    """optax.contrib.prodigy keeps params₀ = params in its state: the kit must not donate the
    params it passes again beside the state."""
    report = testing.check_optimizer("optax.contrib.prodigy", only=["donation"])
    assert report.ok, str(report)


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

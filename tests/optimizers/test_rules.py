"""Each optimizer against the slides' rule written literally in NumPy, and against optax."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from tests.optimizers import problems
from tests.reference import REFERENCES

STEPS = 150


def _halving(learning_rate):
    """A step-decay schedule from ``learning_rate``, usable by NumPy and JAX step counts."""
    return lambda step: learning_rate * 0.5 ** (step // 50)


# name, hyperparameters (non-default where the rule has any, so wrong defaults cannot hide)
CASES = [
    ("sgd", {"learning_rate": 0.05}),
    ("momentum", {"learning_rate": 0.02, "momentum": 0.8}),
    ("nesterov", {"learning_rate": 0.02, "momentum": 0.85}),
    ("adagrad", {"learning_rate": 0.3, "eps": 1e-6, "initial_accumulator_value": 0.1}),
    ("adam", {"learning_rate": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-7}),
    ("rmsprop", {"learning_rate": 0.003, "decay": 0.95, "eps": 1e-6}),
    ("adadelta", {"learning_rate": 0.5, "rho": 0.85, "eps": 1e-5}),
    ("nadam", {"learning_rate": 0.05, "b1": 0.85, "b2": 0.99, "eps": 1e-7}),
    ("adamw", {"learning_rate": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-7, "weight_decay": 0.1}),
]
# Muon orthogonalises each matrix of the two-leaf tree, which the NumPy rule on the 6-vector
# cannot follow; the conformance kit checks its NumPy rule, test_references.py a pytree.
# Muon, the cautious wrappers, MARS, Kron and SOAP act on whole leaves: the kit's per-leaf
# problems test them.
PER_LEAF = ("muon", "cautious_adamw", "cautious_lion", "mars", "kron", "soap")
DEFAULT_CASES = [(name, {"learning_rate": 1e-3}) for name in jol.OPTIMIZERS if name not in PER_LEAF]


def run_library(optimizer: optax.GradientTransformation, steps: int = STEPS) -> list[np.ndarray]:
    """The optimizer's trajectory on the shared problem, gradients from the NumPy formula."""
    params = jax.tree.map(np.asarray, problems.to_tree(problems.THETA0))
    state = optimizer.init(params)
    update = jax.jit(optimizer.update)
    path = [problems.from_tree(params)]
    for _ in range(steps):
        grads = problems.to_tree(problems.grad(problems.from_tree(params)))
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        path.append(problems.from_tree(params))
    return path


def run_reference(name: str, hyperparameters: dict, steps: int = STEPS) -> list[np.ndarray]:
    return REFERENCES[name](problems.grad, problems.THETA0, steps, **hyperparameters)


def assert_paths_close(actual, expected, rtol=1e-7, atol=1e-12):
    # Moving at all, so that two frozen trajectories cannot agree vacuously.
    assert not np.allclose(expected[-1], expected[0])
    np.testing.assert_allclose(np.stack(actual), np.stack(expected), rtol=rtol, atol=atol)


@pytest.mark.parametrize(("name", "hyperparameters"), CASES + DEFAULT_CASES)
def test_matches_reference_rule_in_float64(name, hyperparameters):
    with jax.enable_x64(True):
        actual = run_library(jol.get_optimizer(name, **hyperparameters))
    assert_paths_close(actual, run_reference(name, hyperparameters))


@pytest.mark.parametrize(("name", "hyperparameters"), CASES)
def test_matches_reference_rule_under_a_schedule(name, hyperparameters):
    hyperparameters = {
        **hyperparameters,
        "learning_rate": _halving(hyperparameters["learning_rate"]),
    }
    with jax.enable_x64(True):
        actual = run_library(jol.get_optimizer(name, **hyperparameters))
    assert_paths_close(actual, run_reference(name, hyperparameters))


def test_nesterov_follows_the_literal_look_ahead_rule():
    """The library's parameters are φ = θ − γv of the slides' rule; θ itself is φ + γv."""
    gamma, eta = 0.9, 0.01
    with jax.enable_x64(True):
        optimizer = jol.nesterov(eta, gamma)
        params = problems.THETA0.copy()
        state = optimizer.init(params)
        for _ in range(STEPS):
            updates, state = optimizer.update(problems.grad(params), state, params)
            params = optax.apply_updates(params, updates)
        theta_library = np.asarray(params) + gamma * np.asarray(state.velocity)
    theta, v = problems.THETA0.copy(), np.zeros(6)
    for _ in range(STEPS):  # the slides, verbatim: v ← γv + η∇L(θ − γv); θ ← θ − v
        v = gamma * v + eta * problems.grad(theta - gamma * v)
        theta = theta - v
    np.testing.assert_allclose(theta_library, theta, rtol=1e-9)
    # and the look-ahead is not the plain momentum trajectory
    plain = run_reference("momentum", {"learning_rate": eta, "momentum": gamma})[-1]
    assert not np.allclose(plain, theta, rtol=1e-6)


def _optax_equivalent(name, hp):
    """optax's form of the same rule (only valid for a constant learning rate)."""
    rest = {k: v for k, v in hp.items() if k != "learning_rate"}
    lr = hp["learning_rate"]
    return {
        "sgd": lambda: optax.sgd(lr),
        "momentum": lambda: optax.sgd(lr, momentum=rest["momentum"]),
        "nesterov": lambda: optax.sgd(lr, momentum=rest["momentum"], nesterov=True),
        "adam": lambda: optax.adam(lr, **rest),
        "adamw": lambda: optax.adamw(lr, **rest),
        "nadam": lambda: optax.nadam(lr, **rest),
        "adadelta": lambda: optax.adadelta(lr, **rest),
    }[name]()


OPTAX_CASES = [c for c in CASES if c[0] not in ("adagrad", "rmsprop")]


@pytest.mark.parametrize(("name", "hyperparameters"), OPTAX_CASES)
def test_matches_optax_where_the_formula_is_the_same(name, hyperparameters):
    with jax.enable_x64(True):
        ours = run_library(jol.get_optimizer(name, **hyperparameters))
        theirs = run_library(_optax_equivalent(name, hyperparameters))
    assert_paths_close(ours, theirs)


@pytest.mark.parametrize("name", ["adagrad", "rmsprop"])
def test_eps_outside_the_root_differs_from_optax(name):
    """optax puts ε inside the square root for these two; the trajectories must differ."""
    hp = {"learning_rate": 0.01, "eps": 1e-1}
    with jax.enable_x64(True):
        ours = run_library(jol.get_optimizer(name, **hp), steps=20)[-1]
        other = {
            "adagrad": optax.adagrad(0.01, initial_accumulator_value=0.0, eps=1e-1),
            "rmsprop": optax.rmsprop(0.01, decay=0.9, eps=1e-1),
        }[name]
        theirs = run_library(other, steps=20)[-1]
    expected = run_reference(name, hp, steps=20)[-1]
    np.testing.assert_allclose(ours, expected, rtol=1e-9)
    assert not np.allclose(ours, theirs, rtol=1e-6)

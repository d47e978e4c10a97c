"""Properties of what an optimizer computes: it converges, and it follows its reference.

- ``parabola`` and ``rosenbrock``: from a fixed start, float32, within 10,000 steps run as one
  compiled ``fori_loop``, reach the minimum to ‖θ − θ*‖∞ ≤ 3e-2 (1 + |θ*|) (optax's targets and
  tolerance). Only here, the check tries a grid of learning rates, η × (1, 10, 0.1, 100, 0.01)
  in that order, stopping at the first that works and reporting it, where η is the given
  learning rate, else the factory's default; a ready transformation runs once as it is. When
  no rate works and the first step is the same at every rate of the grid, the failure says the
  learning rate is ignored rather than pointing at the update's sign.
- ``reference``: the optimizer and the reference run ``steps`` steps (default 50) from the same
  start on the smooth problem of ``problems.smooth_grad`` in float64 (inside
  ``jax.enable_x64(True)``), with the same hyperparameters, and must agree at every step to
  ``|θ − θ_ref| ≤ atol + rtol |θ_ref|`` (default rtol 1e-7, atol 1e-12); a failure names the
  first step and entry where they part. Then both run again under a *changing* learning rate,
  η for 10 steps and then × 0.95 a step (η alone injected into the optimizer and a factory
  reference, as the engine schedules η; a NumPy rule gets the schedule as its
  ``learning_rate``): rules that differ only in where η sits, such as momentum with η inside
  the velocity (v ← γ v + η g; θ ← θ − v) or outside it (u ← γ u + g; θ ← θ − η u), coincide
  at a constant η and part here, and the failure says so. This second run is left out, saying
  why, when the learning rate is not a number, the reference is a ready transformation, or
  either side cannot take a changing η.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.testing import problems
from jaxopt_lab.testing.case import IGNORED_FIX, Case, explain, is_number, type_difference
from jaxopt_lab.testing.mechanics import TYPES_FIX
from jaxopt_lab.testing.report import Outcome, failed, passed, skipped

LEARNING_RATE_FACTORS = (1.0, 10.0, 0.1, 100.0, 0.01)
CONSTANT_STEPS, DECAY = 10, 0.95  # the reference's changing learning rate
CHANGING = f"η for {CONSTANT_STEPS} steps, then × {DECAY} a step"

CONVERGENCE_FIX = (
    "check the update's sign (updates are added to params: return −η·direction) and that it "
    "stays finite; pass the learning rate your optimizer is meant for in hyperparameters, or "
    "skip={'rosenbrock': why} for a fixed-step rule (sign-based, normalized) that cannot settle "
    "in Rosenbrock's curved valley"
)


def check_parabola(case: Case) -> Outcome:
    return _check_convergence(case, problems.PARABOLA)


def check_rosenbrock(case: Case) -> Outcome:
    return _check_convergence(case, problems.ROSENBROCK)


def _check_convergence(case: Case, problem: problems.Problem) -> Outcome:
    given = case.learning_rate
    if case.takes_learning_rate and is_number(given):
        candidates = [(given * f, f"{f:g}× the given {given:g}") for f in LEARNING_RATE_FACTORS]
    else:
        candidates = [(None, "as given")]
    change = _state_type_change(case.optimizer(), problem)
    if change:
        return failed(
            f"the state changes type after a step ({change}), so the steps cannot run as one "
            "compiled jax.lax.fori_loop, the way training loops run them",
            TYPES_FIX,
        )
    optimum = np.asarray(problem.optimum, np.float32)
    misses = []
    for rate, how in candidates:
        try:
            optimizer = case.optimizer() if rate is None else case.optimizer(learning_rate=rate)
        except ValueError as error:  # a factory may refuse some rates of the grid
            misses.append(f"refused learning_rate={rate:.3g} ({error})")
            continue
        final = np.asarray(_minimise(optimizer, problem), np.float64)
        error = np.max(np.abs(final - optimum) / (1.0 + np.abs(optimum)))
        at = "" if rate is None else f" at learning_rate={rate:.3g}"
        if np.isfinite(error) and error <= problem.tolerance:
            return passed(f"reached {tuple(problem.optimum)} in {problem.steps} steps{at} ({how})")
        misses.append(f"{'non-finite' if not np.isfinite(error) else f'error {error:.2g}'}{at}")
    what = (
        f"did not reach the minimum {tuple(problem.optimum)} in {problem.steps} steps from "
        f"{tuple(problem.start)} (error max|θ − θ*|/(1 + |θ*|) ≤ {problem.tolerance} needed): "
        f"{'; '.join(misses)}"
    )
    rates = [rate for rate, _ in candidates if rate is not None]
    if len(rates) > 1 and _same_first_step(case, problem, rates):
        return failed(
            f"{what}; the first step is the same at every one of these learning rates, so the "
            "learning rate is ignored and no rate of the grid can help",
            IGNORED_FIX,
        )
    return failed(what, CONVERGENCE_FIX)


def _same_first_step(case: Case, problem: problems.Problem, rates: list[float]) -> bool:
    """True when the first update from the problem's start is the same at every rate."""
    start = jnp.asarray(problem.start, jnp.float32)
    grads = jax.grad(problem.objective)(start)
    steps = []
    for rate in rates:
        try:
            optimizer = case.optimizer(learning_rate=rate)
        except ValueError:
            continue
        steps.append(np.asarray(optimizer.update(grads, optimizer.init(start), start)[0]))
    if len(steps) < 2 or not np.any(steps[0]):  # a zero first step tells nothing about η
        return False
    return all(np.array_equal(s, steps[0]) for s in steps[1:])


def _state_type_change(optimizer: optax.GradientTransformation, problem: problems.Problem):
    start = jnp.asarray(problem.start, jnp.float32)
    state = optimizer.init(start)
    _, after = optimizer.update(jax.grad(problem.objective)(start), state, start)
    return type_difference(state, after, weak_types=False)


def _minimise(optimizer: optax.GradientTransformation, problem: problems.Problem) -> jax.Array:
    @jax.jit
    def solve(start):
        def step(_, carry):
            params, state = carry
            updates, state = optimizer.update(jax.grad(problem.objective)(params), state, params)
            return optax.apply_updates(params, updates), state

        return jax.lax.fori_loop(0, problem.steps, step, (start, optimizer.init(start)))[0]

    return solve(jnp.asarray(problem.start, jnp.float32))


def trajectory(optimizer: optax.GradientTransformation, start: np.ndarray, steps: int) -> list:
    """[θ₀, …, θ_steps] of ``optimizer`` on the smooth problem, gradients from NumPy."""
    params = jnp.asarray(start)
    state, update = optimizer.init(params), jax.jit(optimizer.update)
    path = [np.asarray(start)]
    for _ in range(steps):
        grads = jnp.asarray(problems.smooth_grad(np.asarray(params)), params.dtype)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        path.append(np.asarray(params))
    return path


def changing_learning_rate(learning_rate: float) -> Callable[[Any], Any]:
    """η_t = η for the 0-based steps t < 10, then η·0.95^(t − 9): constant, then decaying.

    One function for both sides of the comparison: a NumPy rule calls it with a Python int,
    ``optax.inject_hyperparams`` with the step count array.
    """

    def schedule(count: Any) -> Any:
        if isinstance(count, numbers.Integral):
            return learning_rate * DECAY ** max(count - CONSTANT_STEPS + 1, 0)
        return learning_rate * DECAY ** jnp.maximum(count - CONSTANT_STEPS + 1, 0)

    return schedule


def check_reference(case: Case) -> Outcome:
    if case.reference is None:
        return skipped("no reference given (reference=a name, a factory or a NumPy rule)")
    start = problems.SMOOTH_START.copy()
    with jax.enable_x64(True):
        actual = trajectory(case.optimizer(), start, case.steps)
        expected = [np.asarray(theta, np.float64) for theta in case.reference(start, case.steps)]
    if len(expected) != case.steps + 1:
        return failed(
            f"the reference {case.reference_label} returned {len(expected)} points for "
            f"{case.steps} steps",
            "a NumPy rule returns the whole trajectory [θ₀, θ₁, …, θ_steps]",
        )
    if np.allclose(expected[-1], expected[0]):
        return failed(
            f"the reference {case.reference_label} did not move in {case.steps} steps, so "
            "agreeing with it would prove nothing",
            "give hyperparameters (a learning rate) at which it moves",
        )
    departure = _departure(case, actual, expected)
    if departure:
        return failed(
            departure[1],
            "compare the rule with the reference's formula term by term at that step: a "
            "first step that differs points at initial values or bias corrections, a later "
            "one at a decay rate, a default or the order of the updates; if the difference "
            "is rounding, loosen rtol/atol",
        )
    constant = (
        f"follows {case.reference_label} for {case.steps} steps in float64 (rtol {case.rtol:g})"
    )
    schedule, why_not = _changing(case)
    if schedule is None:
        return passed(f"{constant}; not under a changing η: {why_not}")
    with jax.enable_x64(True):
        try:
            expected = case.reference(start, case.steps, schedule)
        except Exception as error:
            reason = f"the reference {explain(error)[0]} when given a schedule"
            return passed(f"{constant}; not under a changing η: {reason}")
        try:
            actual = trajectory(case.at_learning_rate(schedule), start, case.steps)
        except Exception as error:
            reason = f"with η injected the optimizer {explain(error)[0]} (see inject_hyperparams)"
            return passed(f"{constant}; not under a changing η: {reason}")
    expected = [np.asarray(theta, np.float64) for theta in expected]
    departure = _departure(case, actual, expected)
    if departure:
        step, where = departure
        return failed(
            f"follows {case.reference_label} at a constant η, but under a changing η "
            f"({CHANGING}) differs from it from step {step} on: {where}. With a constant η "
            "both rules coincide, so they apply η differently: probably outside the velocity "
            "(u ← γ u + g; θ ← θ − η_t u) where the reference has it inside "
            "(v ← γ v + η_t g; θ ← θ − v), or the other way round, or the schedule is read at "
            "another step",
            "apply η where the reference's formula does: inside a velocity each gradient keeps "
            "the η of its own step, so a lower η damps only the new gradients; outside it a "
            "lower η rescales all that was accumulated at once",
        )
    return passed(f"{constant}, at a constant η and under a changing one ({CHANGING})")


def _changing(case: Case) -> tuple[Callable[[Any], Any] | None, str]:
    """The changing learning rate to follow the reference under, or None and why not."""
    if not case.takes_learning_rate:
        return None, "the optimizer takes no learning_rate (or is a ready transformation)"
    if not is_number(case.learning_rate):
        return None, "the learning_rate given is not a number (a schedule is followed above)"
    if not case.reference_takes_learning_rate:
        return None, "the reference is a ready transformation, whose η cannot change"
    return changing_learning_rate(float(case.learning_rate)), ""


def _departure(case: Case, actual: list, expected: list) -> tuple[int, str] | None:
    """The first step where ``actual`` leaves ``expected`` and a sentence saying where, or None."""
    for step, (a, e) in enumerate(zip(actual, expected, strict=True)):
        close = np.isclose(a, e, rtol=case.rtol, atol=case.atol)
        if not close.all():
            i = int(np.argmin(close))
            return step, (
                f"step {step}, leaf [{i}]: {a[i]:.10g} vs reference {e[i]:.10g} "
                f"(|difference| {abs(a[i] - e[i]):.2g}; float64, rtol {case.rtol:g}, "
                f"atol {case.atol:g}, reference {case.reference_label})"
            )
    return None

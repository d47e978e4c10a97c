"""Properties of how an optimizer composes: with any pytree and with optax's wrappers.

- ``pytrees``: nested dicts/tuples/lists with empty containers, and a Flax-like
  ``{'params': {'Dense_0': {'kernel', 'bias'}, …}}``; updates come back shaped like the params
  and the state keeps its structure.
- ``chain_clip``: inside ``optax.chain(optax.clip_by_global_norm(0.1), tx)`` the updates equal
  ``tx``'s on gradients clipped by hand (3 steps, rtol 1e-5).
- ``inject_hyperparams``: ``optax.inject_hyperparams(factory)(**hyperparameters)``, which makes
  every numeric argument an array (given or default), gives the plain optimizer's updates and
  state values, run under ``jit`` (3 steps, rtol 1e-5: injected hyperparameters are float32
  arrays, so 1 − β may round differently). Needs a factory.
- ``vmap_learning_rate``: ``jax.vmap`` over learning rates η·(½, 1, 2) through
  ``inject_hyperparams``; each lane equals the plain optimizer at its rate (2 steps, rtol 1e-5).
  Needs a factory with a ``learning_rate`` argument and a numeric learning rate.
- ``multisteps``: inside ``optax.MultiSteps(tx, every_k_schedule=3)`` the first two updates are
  zeros and the third is ``tx``'s first update on the mean of the three gradients.
- ``extra_args``: ``optax.with_extra_args_support(tx).update(g, s, p, extra=…)`` runs and
  gives the plain update.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.testing import problems
from jaxopt_lab.testing.case import (
    Case,
    explain,
    first_difference,
    is_number,
    run,
    structure_difference,
    type_difference,
)
from jaxopt_lab.testing.report import Outcome, failed, passed, skipped

STEPS = 3
EVERY_K = 3
MAX_NORM = 0.1

PYTREE_FIX = (
    "treat params, updates and state as pytrees: build the state with "
    "jax.tree.map(jnp.zeros_like, params) and compute each leaf with jax.tree.map over "
    "updates, state and params, never assuming a single array; empty containers ({}, (), []) "
    "come back as they went in"
)
NEEDS_FACTORY = (
    "a ready GradientTransformation has no hyperparameters to inject; pass its factory "
    "(e.g. optax.adam) with hyperparameters={...} to check this"
)


def check_pytrees(case: Case) -> Outcome:
    optimizer = case.optimizer()
    for description, make in problems.TREES.items():
        params = make()
        try:
            all_updates, state = run(optimizer, params, 2)
        except Exception as error:
            return failed(f"on {description}, update {explain(error)[0]}", PYTREE_FIX)
        problem = type_difference(params, all_updates[-1], "updates", weak_types=False)
        problem = problem or structure_difference(state, optimizer.init(params), "state")
        if problem:
            return failed(f"on {description}, {problem}", PYTREE_FIX)
    return passed("nested containers with empty ones, and a Flax-like params dict")


def check_chain_clip(case: Case) -> Outcome:
    params = problems.params()
    chained = optax.chain(optax.clip_by_global_norm(MAX_NORM), case.optimizer())
    ours, _ = run(chained, params, STEPS)

    def clipped(_, step):
        grads = problems.gradients(params, step)
        factor = jnp.minimum(1.0, MAX_NORM / optax.tree.norm(grads))
        return jax.tree.map(lambda g: (g * factor).astype(g.dtype), grads)

    theirs, _ = run(case.optimizer(), params, STEPS, grads=clipped)
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        where = first_difference(a, b, rtol=1e-5, atol=1e-7)
        if where:
            return failed(
                f"in optax.chain(optax.clip_by_global_norm({MAX_NORM}), tx), step {step + 1}: "
                f"{where} (tx on gradients clipped by hand)",
                "the update must depend only on the updates it is passed (chain passes the "
                "clipped gradients), its own state and the params",
            )
    return passed(f"matches the optimizer on gradients clipped to norm {MAX_NORM}")


def check_inject_hyperparams(case: Case) -> Outcome:
    if case.factory is None:
        return skipped(NEEDS_FACTORY)
    injected_names = _injected(case)
    if not injected_names:
        return skipped("the factory has no numeric hyperparameter to inject")
    params = problems.params()
    plain_updates, plain_state = run(case.optimizer(), params, STEPS)
    injected = optax.inject_hyperparams(case.factory)(**case.hyperparameters)
    injected_updates, injected_state = run(injected, params, STEPS, jit=True)
    fix = (
        "the factory must give the same rule when optax.inject_hyperparams passes each "
        "hyperparameter as a float32 array: do not read hyperparameters as Python numbers "
        "(e.g. with float() or in isinstance checks), compute with them as arrays"
    )
    for step, (a, b) in enumerate(zip(injected_updates, plain_updates, strict=True)):
        where = first_difference(a, b, rtol=1e-5, atol=1e-7)
        if where:
            return failed(f"step {step + 1} under inject_hyperparams: {where} (plain)", fix)
    inner_state = injected_state.inner_state
    where = first_difference(inner_state, plain_state, rtol=1e-5, atol=1e-7, what="state")
    if where:
        return failed(f"after {STEPS} steps under inject_hyperparams, {where} (plain)", fix)
    return passed(f"same updates and state with {', '.join(injected_names)} injected, under jit")


def check_vmap_learning_rate(case: Case) -> Outcome:
    if case.factory is None:
        return skipped(NEEDS_FACTORY)
    if not case.takes_learning_rate:
        return skipped("the factory has no learning_rate argument to vmap over")
    if not is_number(case.learning_rate):
        return skipped(f"learning_rate={case.learning_rate!r} is not a number to vmap over")
    rates = np.float32(case.learning_rate) * np.array([0.5, 1.0, 2.0], np.float32)
    params = problems.params()

    def lane(rate):
        optimizer = optax.inject_hyperparams(case.factory)(
            **{**case.hyperparameters, "learning_rate": rate}
        )
        return run(optimizer, params, 2)[0]

    batched = jax.vmap(lane)(jnp.asarray(rates))
    for i, rate in enumerate(rates):
        single, _ = run(case.optimizer(learning_rate=float(rate)), params, 2)
        where = first_difference(jax.tree.map(lambda x, i=i: x[i], batched), single, 1e-5, 1e-7)
        if where:
            return failed(
                f"the vmapped lane with learning_rate={rate:.4g}: {where} (plain)",
                "each lane must use its own learning rate: compute with the injected "
                "hyperparameter as an array, never with a value captured outside the factory",
            )
    return passed(f"vmapped over learning rates {', '.join(f'{r:.3g}' for r in rates)}")


def check_multisteps(case: Case) -> Outcome:
    optimizer = case.optimizer()
    multi = optax.MultiSteps(optimizer, every_k_schedule=EVERY_K)
    params = problems.params()
    state, update = multi.init(params), jax.jit(multi.update)
    for step in range(EVERY_K):
        updates, state = update(problems.gradients(params, step), state, params)
        if step < EVERY_K - 1 and any(bool(jnp.any(u != 0)) for u in jax.tree.leaves(updates)):
            return failed(
                f"optax.MultiSteps(tx, every_k_schedule={EVERY_K}) emitted non-zero updates at "
                f"step {step + 1}",
                "the update must not act outside the updates it returns (no side effects)",
            )
    grads = [problems.gradients(params, step) for step in range(EVERY_K)]
    mean = jax.tree.map(lambda *g: sum(g) / EVERY_K, *grads)
    expected, _ = optimizer.update(mean, optimizer.init(params), params)
    where = first_difference(updates, expected, rtol=1e-5, atol=1e-7)
    if where:
        return failed(
            f"step {EVERY_K} of optax.MultiSteps: {where} (tx on the mean gradient)",
            "the update must depend only on its arguments and state",
        )
    return passed(f"zeros until step {EVERY_K}, then the update of the mean gradient")


def check_extra_args(case: Case) -> Outcome:
    optimizer = case.optimizer()
    wrapped = optax.with_extra_args_support(optimizer)
    params = problems.params()
    grads, state = problems.gradients(params, 0), optimizer.init(params)

    where = first_difference(
        wrapped.update(grads, state, params, unexpected_extra_arg=jnp.ones(())),
        optimizer.update(grads, state, params),
        rtol=0.0,
        atol=0.0,
        what="(updates, state)",
    )
    if where:
        return failed(
            f"with an extra argument, {where} (without)", "ignore extra arguments you do not use"
        )
    return passed("with_extra_args_support(tx).update(..., unexpected_extra_arg=...) works")


def _injected(case: Case) -> list[str]:
    """The arguments ``inject_hyperparams`` makes arrays: numbers, given or by default."""
    try:
        bound = inspect.signature(case.factory).bind(**case.hyperparameters)
    except (TypeError, ValueError):
        return [k for k, v in case.hyperparameters.items() if is_number(v)]
    bound.apply_defaults()
    return [k for k, v in bound.arguments.items() if is_number(v)]

"""Properties of how an optimizer composes: with any pytree and with optax's wrappers.

- ``pytrees``: nested dicts/tuples/lists with empty containers, and a Flax-like
  ``{'params': {'Dense_0': {'kernel', 'bias'}, …}}``; updates come back shaped like the params
  and the state keeps its structure.
- ``chain_clip``: inside ``optax.chain(optax.clip_by_global_norm(0.1), tx)`` the updates equal
  ``tx``'s on gradients clipped by hand (3 steps, rtol 1e-5).
- ``inject_hyperparams``: ``optax.inject_hyperparams(factory)(**hyperparameters)``, which makes
  every numeric argument an array (given or default), gives the plain optimizer's updates and
  state values, run under ``jit`` (3 steps, rtol 1e-5: injected hyperparameters are float32
  arrays, so 1 − β may round differently). An argument that cannot be injected is found by
  injecting each alone (only the integers, when all the others together can be injected): an
  integer the factory needs as a Python number (a size, such as
  ``optax.adafactor``'s ``min_dim_size_to_factor``) is kept static, as
  ``inject_hyperparams(..., static_args=...)`` is meant for, and the PASS line names it; any
  other fails, naming it. A difference from the plain updates names the hyperparameter whose
  injection alone reproduces it. Then η must matter: the injected optimizer at 2η must give
  other updates than at η (else "the learning rate is ignored"). Needs a factory.
- ``vmap_learning_rate``: ``jax.vmap`` over learning rates η·(½, 1, 2) through
  ``inject_hyperparams`` of η alone, the other hyperparameters closed over (as the engine
  sweeps η); each lane equals the plain optimizer at its rate (2 steps, rtol 1e-5), and the
  lanes at ½η and 2η differ (else "the learning rate is ignored"). Needs a factory with a
  ``learning_rate`` argument and a numeric learning rate.

  In both, the first update at 2η must be twice the one at η when the reference's first step
  is (every rule whose step is η times a direction); without a reference a first update that
  is not in proportion is only reported.
- ``multisteps``: inside ``optax.MultiSteps(tx, every_k_schedule=3)`` the first two updates are
  zeros and the third is ``tx``'s first update on the mean of the three gradients.
- ``extra_args``: ``optax.with_extra_args_support(tx).update(g, s, p, extra=…)`` runs and
  gives the plain update.
"""

from __future__ import annotations

import inspect
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.testing import problems
from jaxopt_lab.testing.case import (
    IGNORED_FIX,
    Case,
    explain,
    factory_default,
    first_difference,
    is_number,
    run,
    structure_difference,
    type_difference,
)
from jaxopt_lab.testing.report import Outcome, failed, passed, skipped

STEPS = 3
VMAP_STEPS = 2
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


INJECT_FIX = (
    "the factory must give the same rule when optax.inject_hyperparams passes each "
    "hyperparameter as a float32 array: do not read hyperparameters as Python numbers "
    "(e.g. with float() or in isinstance checks), compute with them as arrays"
)
PARTLY_FIX = (
    "apply η to the whole update, as the reference does: a term that η does not scale (a "
    "fixed rate somewhere in the rule) or scales twice breaks update(2η) = 2·update(η)"
)


def check_inject_hyperparams(case: Case) -> Outcome:
    if case.factory is None:
        return skipped(NEEDS_FACTORY)
    names = _injected(case)
    if not names:
        return skipped("the factory has no numeric hyperparameter to inject")
    params = problems.params()
    plain_updates, plain_state = run(case.optimizer(), params, STEPS)
    static: list[str] = []
    error = _inject_error(case, names, params)
    if error is not None:
        text, fix = explain(error)
        alone = {
            name: _inject_error(case, [name], params) for name in _suspects(case, names, params)
        }
        culprits = [name for name, e in alone.items() if e is not None]
        refused = [name for name in culprits if not _is_integer(_argument(case, name))]
        if not culprits:
            together = ", ".join(names)
            return failed(f"with {together} injected together, {text}", fix or INJECT_FIX)
        if refused:
            first = refused[0]
            return failed(
                f"{_names(refused)} cannot be injected: with {first} alone injected as an "
                f"array, {explain(alone[first])[0]}",
                explain(alone[first])[1] or INJECT_FIX,
            )
        # Integers the factory needs as Python numbers (sizes, counts): what static_args is for.
        static = culprits
        names = [name for name in names if name not in static]
        if not names:
            return skipped(f"{_names(static)} must stay Python integers; nothing else to inject")
    injected = _inject(case, names)
    injected_updates, injected_state = run(injected(**case.hyperparameters), params, STEPS, True)
    where = _inject_difference(injected_updates, injected_state, plain_updates, plain_state)
    if where:
        blamed = names
        if len(names) > 1:
            plain = (plain_updates, plain_state)
            single = [name for name in names if _differs_alone(case, name, params, plain)]
            blamed = single or names
        what = f"{blamed[0]} alone" if len(blamed) == 1 else f"{_names(blamed)}"
        return failed(
            f"with {what} injected (a float32 array instead of the Python number given), {where}",
            INJECT_FIX,
        )
    detail = f"same updates and state with {', '.join(names)} injected, under jit"
    if static:
        detail += (
            f"; {_names(static)} kept static (an integer the factory uses as a Python number: "
            f"optax.inject_hyperparams(factory, static_args={tuple(static)!r}))"
        )
    if "learning_rate" in names and _varies(case.learning_rate):
        eta = float(case.learning_rate)
        doubled = {**case.hyperparameters, "learning_rate": 2 * eta}
        twice, _ = run(injected(**doubled), params, STEPS, True)
        problem, effect = _learning_rate_effect(case, (eta, injected_updates), (2 * eta, twice))
        if problem:
            return problem
        detail += f"; {effect}"
    return passed(detail)


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
        return run(case.at_learning_rate(rate), params, VMAP_STEPS)[0]

    batched = jax.vmap(lane)(jnp.asarray(rates))
    lanes = [jax.tree.map(lambda x, i=i: x[i], batched) for i in range(len(rates))]
    for rate, updates in zip(rates, lanes, strict=True):
        single, _ = run(case.optimizer(learning_rate=float(rate)), params, VMAP_STEPS)
        where = first_difference(updates, single, 1e-5, 1e-7)
        if where:
            return failed(
                f"the vmapped lane with learning_rate={rate:.4g}: {where} (plain)",
                "each lane must use its own learning rate: compute with the injected "
                "hyperparameter as an array, never with a value captured outside the factory",
            )
    detail = f"vmapped over learning rates {', '.join(f'{r:.3g}' for r in rates)}"
    if _varies(case.learning_rate):
        low, base, high = ((float(r), updates) for r, updates in zip(rates, lanes, strict=True))
        problem, effect = _learning_rate_effect(case, base, high, low)
        if problem:
            return problem
        detail += f"; {effect}"
    return passed(detail)


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


def _argument(case: Case, name: str):
    """The value ``name`` takes in the factory's call: given, else its default."""
    if name in case.hyperparameters:
        return case.hyperparameters[name]
    return factory_default(case.factory, name)


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral | np.integer) and not isinstance(value, bool)


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _inject(case: Case, names: list[str]):
    """``optax.inject_hyperparams(factory)`` injecting ``names``, the other arguments static."""
    others = [name for name in _injected(case) if name not in names]
    return optax.inject_hyperparams(case.factory, static_args=others)


def _suspects(case: Case, names: list[str], params) -> list[str]:
    """The names to inject one by one after injecting all of them failed: only the integers
    when every other name injected together runs (one compile instead of one per name; a name
    left a Python number is what the plain optimizer runs with), else all of them."""
    integers = [name for name in names if _is_integer(_argument(case, name))]
    others = [name for name in names if name not in integers]
    if integers and others and _inject_error(case, others, params) is None:
        return integers
    return names


def _inject_error(case: Case, names: list[str], params) -> Exception | None:
    """The error of one jitted step with ``names`` injected, or None when it runs."""
    try:
        run(_inject(case, names)(**case.hyperparameters), params, 1, jit=True)
    except Exception as error:
        return error
    return None


def _inject_difference(injected_updates, injected_state, plain_updates, plain_state):
    """Where the injected run first differs from the plain one, or None."""
    for step, (a, b) in enumerate(zip(injected_updates, plain_updates, strict=True)):
        where = first_difference(a, b, rtol=1e-5, atol=1e-7)
        if where:
            return f"step {step + 1}: {where} (plain)"
    where = first_difference(
        injected_state.inner_state, plain_state, rtol=1e-5, atol=1e-7, what="state"
    )
    return f"after {STEPS} steps, {where} (plain)" if where else None


def _differs_alone(case: Case, name: str, params, plain) -> bool:
    """True when injecting ``name`` alone changes the ``plain`` run's (updates, state)."""
    updates, state = run(_inject(case, [name])(**case.hyperparameters), params, STEPS, True)
    return _inject_difference(updates, state, *plain) is not None


def _varies(learning_rate) -> bool:
    """A learning rate whose multiples differ: a non-zero finite number."""
    return is_number(learning_rate) and np.isfinite(learning_rate) and float(learning_rate) != 0


def _learning_rate_effect(case: Case, base, higher, lower=None) -> tuple[Outcome | None, str]:
    """Do other learning rates give other updates, the first step in proportion where the
    reference's does? Each argument is ``(rate, [updates of each step])``; returns the failure,
    or None and what was seen."""
    (rate, updates), (high, high_updates) = base, higher
    low, low_updates = lower or base
    if all(
        first_difference(h, u, rtol=1e-6, atol=0.0) is None
        for h, u in zip(high_updates, low_updates, strict=True)
    ):
        if all(not np.any(np.asarray(leaf)) for leaf in jax.tree.leaves(high_updates)):
            return None, "the updates are all zero, so whether η is applied cannot be seen"
        value = np.asarray(jax.tree.leaves(high_updates[0])[0], np.float64).ravel()[0]
        return (
            failed(
                f"the learning rate is ignored: learning_rate={low:.3g} and {high:.3g} give the "
                f"same updates in all {len(updates)} steps (the first entry of step 1's "
                f"updates is {value:.6g} at both)",
                IGNORED_FIX,
            ),
            "",
        )
    ratio = high / rate
    scaled = jax.tree.map(lambda u: np.asarray(u, np.float64) * ratio, updates[0])
    where = first_difference(high_updates[0], scaled, rtol=1e-5, atol=1e-7)
    if where is None:
        return None, f"the first update scales with η ({ratio:g}× at {high:.3g})"
    if case.reference_is_linear_in_learning_rate():
        return (
            failed(
                f"the learning rate is not applied to the whole update: the first update at "
                f"learning_rate={high:.3g} must be {ratio:g}× the one at {rate:.3g}, as the "
                f"reference {case.reference_label}'s is, but {where} ({ratio:g}× the update "
                f"at {rate:.3g})",
                PARTLY_FIX,
            ),
            "",
        )
    return None, (
        f"the updates change with η, the first not in proportion to it (no reference that "
        f"says it should: {where} vs {ratio:g}× the update at {rate:.3g})"
    )

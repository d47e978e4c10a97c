"""Properties of how an optimizer compiles: purity, tracing once, and the dtypes it keeps.

- ``jit``: ``init``/``update`` give the same results with and without ``jax.jit`` (3 steps,
  float32, rtol 1e-6), and calling ``update`` twice on the same arguments gives the same result.
- ``no_recompilation``: a jitted update is traced once over 3 steps. Counted with a Python list
  inside the jitted function, which runs only while tracing (JAX's public behaviour; no private
  compilation caches are read).
- ``donation``: two steps of ``jax.jit(update, donate_argnums=1)`` from an eager ``init``, as
  training loops that reuse the state's memory run it. A state holding one array in two places
  (``m = s = zeros``) cannot be donated: XLA refuses to donate a buffer twice. A state leaf that
  is the params array itself (``optax.contrib.prodigy`` keeps params₀ = params) is copied
  before it is donated, since the kit passes the same params again, undonated, beside it.
- ``update_dtype``: updates have the gradients' dtype for bfloat16 and float32.
- ``state_dtypes``: the state keeps its structure, shapes and dtypes across steps, also when the
  update runs inside ``lax.cond``, for float16, bfloat16, float32 and float64 parameters
  (float64 inside ``jax.enable_x64(True)``, whatever the global setting).
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_lab.testing import problems
from jaxopt_lab.testing.case import Case, describe, first_difference, run, type_difference
from jaxopt_lab.testing.report import Outcome, failed, passed

STEPS = 3

PURE_FIX = (
    "init and update must be pure functions of their arguments: keep everything that changes "
    "between steps in the state they return (no Python-side counters or globals, no NumPy "
    "calls on traced values, no random draws without a key held in the state)"
)
ALIAS_FIX = (
    "give each state leaf an array of its own: call jax.tree.map(jnp.zeros_like, params) once "
    "for each moment you keep, not once for all of them (a jitted step that donates the state, "
    "jax.jit(update, donate_argnums=1), cannot donate one buffer twice)"
)
TYPES_FIX = (
    "keep each state leaf's structure, shape, dtype and weak type fixed: create counters as "
    "jnp.zeros([], jnp.int32) and advance them with optax.safe_increment, and cast new moments "
    "to the old one's dtype (.astype(old.dtype))"
)


def check_jit(case: Case) -> Outcome:
    optimizer = case.optimizer()
    params = problems.params()
    eager_updates, eager_state = run(optimizer, params, STEPS, jit=False)
    jitted_updates, jitted_state = run(optimizer, params, STEPS, jit=True)
    for step, (jitted, eager) in enumerate(zip(jitted_updates, eager_updates, strict=True)):
        where = first_difference(jitted, eager, rtol=1e-6, atol=1e-7)
        if where:
            return failed(f"step {step + 1} under jax.jit differs from eager: {where}", PURE_FIX)
    where = first_difference(jitted_state, eager_state, rtol=1e-6, atol=1e-7, what="state")
    if where:
        return failed(f"after {STEPS} steps under jax.jit, {where} (eager)", PURE_FIX)

    state, grads = optimizer.init(params), problems.gradients(params, 0)
    once, twice = optimizer.update(grads, state, params), optimizer.update(grads, state, params)
    where = first_difference(twice, once, rtol=0.0, atol=0.0, what="(updates, state)")
    if where:
        return failed(f"update called twice on the same arguments gave {where}", PURE_FIX)
    return passed(f"{STEPS} steps agree with and without jax.jit; update is repeatable")


def check_no_recompilation(case: Case) -> Outcome:
    optimizer = case.optimizer()
    params = problems.params()
    traces = []

    def traced_update(grads, state, params):
        traces.append(1)  # runs once per trace, never when a compiled program is reused
        return optimizer.update(grads, state, params)

    update = jax.jit(traced_update)
    states = [optimizer.init(params)]
    for step in range(STEPS):
        states.append(update(problems.gradients(params, step), states[-1], params)[1])
    if len(traces) == 1:
        return passed(f"traced once in {STEPS} steps")
    change = next(
        filter(None, (type_difference(a, b) for a, b in itertools.pairwise(states))),
        "the state's types changed between steps",
    )
    return failed(
        f"update was traced {len(traces)} times in {STEPS} steps (once is expected), so every "
        f"step compiles anew: {change}",
        TYPES_FIX,
    )


def check_donation(case: Case) -> Outcome:
    optimizer = case.optimizer()
    params = problems.params()
    state = optimizer.init(params)
    seen: dict[int, str] = {}
    for path, leaf in jax.tree.leaves_with_path(state):
        where = f"state{jax.tree_util.keystr(path)}"
        if isinstance(leaf, jax.Array) and id(leaf) in seen:
            return failed(f"init returns one array as both {seen[id(leaf)]} and {where}", ALIAS_FIX)
        seen[id(leaf)] = where
    # A state may keep the params themselves (optax.contrib.prodigy's params₀ is params): the
    # kit, not the optimizer, would then donate a buffer it passes again as params.
    state = _without_params(state, params)
    step = jax.jit(optimizer.update, donate_argnums=1)
    try:
        for k in range(2):
            _, state = step(problems.gradients(params, k), state, params)
    except Exception as error:  # XLA's refusal surfaces as a runtime error of the call
        return failed(f"a donated update failed: {' '.join(str(error).split())[:300]}", ALIAS_FIX)
    return passed("2 steps of a jitted update with its state donated")


def _without_params(state: Any, params: Any) -> Any:
    """``state`` with a copy of each leaf that is one of the ``params`` arrays."""
    own = {id(leaf) for leaf in jax.tree.leaves(params)}
    return jax.tree.map(lambda leaf: jnp.copy(leaf) if id(leaf) in own else leaf, state)


def check_update_dtype(case: Case) -> Outcome:
    optimizer = case.optimizer()
    for dtype in (jnp.bfloat16, jnp.float32):
        params = problems.params(dtype)
        grads = problems.gradients(params, 0)
        state = jax.jit(optimizer.init)(params)
        updates, _ = jax.jit(optimizer.update)(grads, state, params)
        for (path, update), grad in zip(
            jax.tree.leaves_with_path(updates), jax.tree.leaves(grads), strict=False
        ):
            if update.dtype != grad.dtype:
                return failed(
                    f"for {jnp.dtype(dtype).name} gradients the updates"
                    f"{jax.tree_util.keystr(path)} are {describe(update)}",
                    "return updates in the gradients' dtype: cast each leaf back with "
                    ".astype(g.dtype); a float32 scalar (an injected hyperparameter, a bias "
                    "correction β**t of an integer count) promotes bfloat16 arrays",
                )
    return passed("bfloat16 and float32 updates keep the gradients' dtype")


def check_state_dtypes(case: Case) -> Outcome:
    for dtype in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64):
        x64 = jax.enable_x64(True) if dtype == jnp.float64 else contextlib.nullcontext()
        with x64:
            problem = _state_dtype_problem(case, dtype)
        if problem:
            return failed(f"with {jnp.dtype(dtype).name} parameters, {problem}", TYPES_FIX)
    return passed("state types stable over steps and inside lax.cond, float16 to float64")


def _state_dtype_problem(case: Case, dtype: jnp.dtype) -> str | None:
    optimizer = case.optimizer()
    params = problems.params(dtype)
    state = optimizer.init(params)
    for step in range(2):
        _, new_state = optimizer.update(problems.gradients(params, step), state, params)
        change = type_difference(state, new_state, weak_types=False)
        if change:
            return f"after step {step + 1} {change}"
        state = new_state

    @jax.jit
    def conditional_step(state, take):
        grads = problems.gradients(params, 0)
        return jax.lax.cond(take, lambda: optimizer.update(grads, state, params)[1], lambda: state)

    try:
        for take in (True, False, True):
            state = conditional_step(state, take)
    except TypeError as error:
        return f"inside lax.cond (as in optax.MultiSteps) {' '.join(str(error).split())[:300]}"
    return None

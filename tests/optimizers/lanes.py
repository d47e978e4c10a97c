"""Where the expensive primitives of a step sit in its jaxpr (behind a cond or not), and what an
eager step compiles."""

from __future__ import annotations

import logging

import jax


def unguarded(jaxpr, names, inside_cond=False):
    """The equations named ``names`` in ``jaxpr`` (and its sub-jaxprs) outside every cond."""
    found = []
    for equation in jaxpr.eqns:
        if equation.primitive.name in names and not inside_cond:
            found.append(equation.primitive.name)
        guarded = inside_cond or equation.primitive.name == "cond"
        for value in equation.params.values():
            for sub in value if isinstance(value, tuple | list) else [value]:
                sub = getattr(sub, "jaxpr", sub)
                if hasattr(sub, "eqns"):
                    found += unguarded(sub, names, guarded)
    return found


def eager_compilations(optimizer, params, steps=3):
    """How many XLA compilations each eager ``update`` call after the first makes."""
    state = optimizer.init(params)
    grads = jax.tree.map(lambda p: jax.numpy.sin(p + 0.3), params)
    jax.block_until_ready(optimizer.update(grads, state, params))

    class Count(logging.Handler):
        compiled = 0

        def emit(self, record):
            Count.compiled += "Finished XLA compilation" in record.getMessage()

    handler = Count(level=logging.DEBUG)
    jax_logger = logging.getLogger("jax")
    jax_logger.addHandler(handler)
    counts = []
    try:
        with jax.log_compiles(True):
            for _ in range(steps):
                before = Count.compiled
                _, state = optimizer.update(grads, state, params)
                jax.block_until_ready(state)
                counts.append(Count.compiled - before)
    finally:
        jax_logger.removeHandler(handler)
    return counts

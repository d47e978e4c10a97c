"""A switch that stays lazy under ``jax.vmap``: the expensive branch of an optimizer's step
(SOAP's eigenbasis refresh, Kron's preconditioner fit) runs only when some lane takes it.

Under ``jax.vmap`` with a batched predicate, ``lax.cond`` and ``lax.switch`` become selects:
every lane computes every branch at every step. The engine's sweeps vmap runs whose steps go
together (learning rates, seeds), so their lanes take the same branch: gated on "some lane
takes it", a vmapped step costs its lanes' plain steps.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def switch_per_lane(branches: tuple) -> Any:
    """``(index, operands) ↦ lax.switch(index, branches, operands)`` that stays lazy under vmap.

    Under ``jax.vmap`` with a batched ``index``, ``lax.switch`` becomes a select: every lane
    computes every branch. Here the last branch (the cheap default) runs for every lane and
    each other branch only when some lane takes it, behind a cond on "any lane" (itself a
    ``switch_per_lane``, so an outer vmap gates it the same way); the lanes that take it keep
    its result. The same values as ``lax.switch``; under the engine's sweep, whose lanes step
    together, the expensive branch runs at the steps some lane takes it, not at every step.
    ``custom_vmap`` has no reverse-mode derivative, which an optimizer's update does not need.
    """

    @jax.custom_batching.custom_vmap
    def switch(index, operands):
        return jax.lax.switch(index, branches, operands)

    @switch.def_vmap
    def rule(axis_size, in_batched, index, operands):
        index_batched, operands_batched = in_batched
        operands = jax.tree.map(
            lambda x, batched: x if batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x))),
            operands,
            operands_batched,
        )
        if not index_batched:
            result = jax.vmap(lambda ops: jax.lax.switch(index, branches, ops))(operands)
            return result, jax.tree.map(lambda _: True, result)
        result = jax.vmap(branches[-1])(operands)
        for k, branch in enumerate(branches[:-1]):
            takes = index == k
            gate = switch_per_lane((_take_where(branch), _keep_result))
            result = gate(jnp.where(jnp.any(takes), 0, 1), (takes, operands, result))
        return result, jax.tree.map(lambda _: True, result)

    return switch


def _take_where(branch):
    """(takes, operands, result) ↦ the lanes' ``branch(operands)`` where ``takes``, else result."""

    def run(operands):
        takes, operands, result = operands
        new = jax.vmap(branch)(operands)

        def choose(n, r):
            return jnp.where(takes.reshape(takes.shape + (1,) * (n.ndim - 1)), n, r)

        return jax.tree.map(choose, new, result)

    return run


def _keep_result(operands):
    return operands[2]

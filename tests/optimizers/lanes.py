"""Where the expensive primitives of a step sit in its jaxpr: behind a cond or not."""

from __future__ import annotations


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

"""The table of conformance properties, in the order they are checked and reported.

Each row names a property, the function that checks it (``Case -> Outcome``) and the fix to
print when that function raises an error nobody anticipated (a traced hyperparameter in Python
control flow gets its own fix, see ``case.explain``). The properties themselves live with their
kind: ``mechanics`` (compilation and dtypes), ``composition`` (pytrees and optax wrappers),
``numerics`` (convergence and the reference).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from jaxopt_lab.testing import composition, mechanics, numerics
from jaxopt_lab.testing.case import Case
from jaxopt_lab.testing.report import Outcome


@dataclasses.dataclass(frozen=True)
class Property:
    name: str
    check: Callable[[Case], Outcome]
    fix: str


PROPERTIES: tuple[Property, ...] = (
    Property("jit", mechanics.check_jit, mechanics.PURE_FIX),
    Property("no_recompilation", mechanics.check_no_recompilation, mechanics.PURE_FIX),
    Property("donation", mechanics.check_donation, mechanics.ALIAS_FIX),
    Property(
        "update_dtype",
        mechanics.check_update_dtype,
        "init and update must accept bfloat16 and float32 params and gradients",
    ),
    Property("state_dtypes", mechanics.check_state_dtypes, mechanics.TYPES_FIX),
    Property("pytrees", composition.check_pytrees, composition.PYTREE_FIX),
    Property(
        "chain_clip",
        composition.check_chain_clip,
        "follow optax's protocol so that optax.chain can compose it: init(params) -> state and "
        "update(updates, state, params=None) -> (updates, state)",
    ),
    Property(
        "inject_hyperparams",
        composition.check_inject_hyperparams,
        "the factory must accept each hyperparameter as a jax array (optax.inject_hyperparams "
        "passes float32 arrays, traced under jit)",
    ),
    Property(
        "vmap_learning_rate",
        composition.check_vmap_learning_rate,
        "the factory must accept a traced learning rate (a batched array under jax.vmap)",
    ),
    Property(
        "multisteps",
        composition.check_multisteps,
        "optax.MultiSteps runs the update inside lax.cond: the new state must have the old "
        "state's structure, shapes and dtypes, and the updates the gradients' dtype",
    ),
    Property(
        "extra_args",
        composition.check_extra_args,
        "declare update(updates, state, params=None, **extra_args) and ignore the extra "
        "arguments it does not use, or return a plain optax.GradientTransformation (optax then "
        "drops them)",
    ),
    Property("parabola", numerics.check_parabola, numerics.CONVERGENCE_FIX),
    Property("rosenbrock", numerics.check_rosenbrock, numerics.CONVERGENCE_FIX),
    Property(
        "reference",
        numerics.check_reference,
        "the optimizer and the reference must both run in float64 and take the same "
        "hyperparameters (a NumPy rule as rule(grad, theta, steps, **hyperparameters))",
    ),
)

PROPERTY_NAMES: tuple[str, ...] = tuple(p.name for p in PROPERTIES)

"""A conformance kit for optimizers: does an optax ``GradientTransformation`` behave like one?

    from jaxopt_lab import testing
    report = testing.check_optimizer(my_adam, hyperparameters={"learning_rate": 1e-2},
                                     reference="adam")
    print(report)          # one line per property: PASS, FAIL (what and how to fix) or SKIP (why)
    report.ok, report.failed
    report.assert_ok()     # in a test: AssertionError with the report

The optimizer may be a factory (called with the hyperparameters), a name (``"adam"`` from
jaxopt_lab's registry, ``"optax.lion"``, ``"package.module:factory"``) or a ready
transformation (then ``inject_hyperparams`` and ``vmap_learning_rate`` are skipped). The
reference may be any of those, or a NumPy rule ``rule(grad, theta, steps, learning_rate,
**hyperparameters) -> [θ₀, θ₁, …]``, told from a factory by its first parameters
``(grad, theta, steps)``; a rule whose ``learning_rate`` may be a function of the 0-based step
is followed under a changing η too.

The properties, after optax's own optimizer test matrix (``optax/_src/alias_test.py``):

=====================  ==========================================================================
``jit``                same results with and without ``jax.jit``; ``update`` is repeatable
``no_recompilation``   a jitted update is traced once over three steps
``donation``           a jitted update whose state is donated runs (no array shared in the state)
``update_dtype``       updates keep the gradients' dtype (bfloat16, float32)
``state_dtypes``       the state keeps structure, shapes, dtypes over steps and in ``lax.cond``
                       (float16, bfloat16, float32, float64)
``pytrees``            nested containers with empty ones, a Flax-like params dict
``chain_clip``         inside ``optax.chain(optax.clip_by_global_norm(0.1), tx)``
``inject_hyperparams`` same updates and state under ``optax.inject_hyperparams`` (a factory);
                       a different η gives different updates
``vmap_learning_rate`` ``jax.vmap`` over learning rates through ``inject_hyperparams``; the
                       lanes differ, the first update ∝ η where the reference's is
``multisteps``         in ``optax.MultiSteps(every_k_schedule=3)``: zeros, then the mean's update
``extra_args``         ``optax.with_extra_args_support(tx).update(..., extra=...)``
``parabola``           converges on ½‖θ − c‖² (trying η × 1, 10, 0.1, 100, 0.01)
``rosenbrock``         converges on Rosenbrock (a = 1, b = 100) from (0, 0), same grid
``reference``          follows the reference step by step in float64 (when one is given), at
                       a constant η and under a changing one
=====================  ==========================================================================

Each property's module docstring gives its details: ``mechanics`` (the first five),
``composition`` (the next six), ``numerics`` (the last three).
"""

from jaxopt_lab.testing.check import DEFAULT_LEARNING_RATE, check_optimizer
from jaxopt_lab.testing.properties import PROPERTY_NAMES
from jaxopt_lab.testing.report import PropertyResult, Report
from jaxopt_lab.testing.resolve import is_numpy_rule, resolve

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "PROPERTY_NAMES",
    "PropertyResult",
    "Report",
    "check_optimizer",
    "is_numpy_rule",
    "resolve",
]

"""jaxopt_lab: deep-learning optimizers in JAX, a compiled MNIST engine, studies and benchmarks.

import jaxopt_lab as jol
opt = jol.adam(learning_rate=1e-3)      # an optax.GradientTransformation

The optimizers (``jaxopt_lab.optimizers``, re-exported here) are imported on first use, not by
``import jaxopt_lab``: the command line (``jaxopt-lab --help``, jaxopt_lab/cli/) then answers
without importing JAX.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jaxopt_lab.optimizers import *  # noqa: F403

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``jol.adam``, ``jol.__all__``: import the optimizers once, then answer as a module
    that imported them at the top would (their submodules included)."""
    if name.startswith("__") and name != "__all__":
        raise AttributeError(f"module 'jaxopt_lab' has no attribute {name!r}")
    namespace = globals()
    if "__all__" not in namespace:
        optimizers = importlib.import_module("jaxopt_lab.optimizers")
        names = getattr(optimizers, "__all__", None)
        if names is None:  # asked while jaxopt_lab.optimizers itself is being imported
            raise AttributeError(f"module 'jaxopt_lab' has no attribute {name!r}")
        namespace.update({n: getattr(optimizers, n) for n in names})
        namespace["__all__"] = [*names, "__version__"]
    if name in namespace:
        return namespace[name]
    raise AttributeError(f"module 'jaxopt_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__getattr__("__all__")})

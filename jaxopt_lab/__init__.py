"""jaxopt_lab: deep-learning optimizers in JAX, a compiled MNIST engine, studies and benchmarks.

import jaxopt_lab as jol
opt = jol.adam(learning_rate=1e-3)      # an optax.GradientTransformation
"""

from jaxopt_lab.optimizers import *  # noqa: F403
from jaxopt_lab.optimizers import __all__ as _optimizer_names

__version__ = "0.1.0"
__all__ = [*_optimizer_names, "__version__"]

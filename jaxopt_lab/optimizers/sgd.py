"""Stochastic gradient descent.

    θ ← θ − η g

Identical to ``optax.sgd(η)`` and ``torch.optim.SGD(lr=η)``. There is no direction to scale:
the whole rule is the learning-rate step, ``scale_by_learning_rate``.
"""

from __future__ import annotations

import optax

from jaxopt_lab.optimizers._base import ScalarOrSchedule, scale_by_learning_rate


def sgd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    """Plain SGD, θ ← θ − η g.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule of the step count.
    """
    return scale_by_learning_rate(learning_rate)

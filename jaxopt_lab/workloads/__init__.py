"""Workloads: the problems the lab trains optimizers on, one module each.

>>> from jaxopt_lab import workloads
>>> workloads.get("mnist_cnn").title
'the CNN of Flax's MNIST example'

Every study, the engine and ``bench_train.py`` take a workload by name (config key
``workload.name``, ``--set workload.name=…``); ``mnist_mlp`` is the default. Adding one is a
module here defining ``WORKLOAD`` (``base.Workload``), its entry in ``WORKLOADS``, its test and
its row in docs/workloads.md.
"""

from __future__ import annotations

from jaxopt_lab.workloads import (
    algoperf_mnist,
    mnist1d_cnn,
    mnist1d_mlp,
    mnist_cnn,
    mnist_logreg,
    mnist_mlp,
    noisy_quadratic,
)
from jaxopt_lab.workloads.base import Reference, Workload

DEFAULT = "mnist_mlp"

# The table: name → workload, in the order reports list them.
WORKLOADS: dict[str, Workload] = {
    module.WORKLOAD.name: module.WORKLOAD
    for module in (
        mnist_mlp,
        algoperf_mnist,
        mnist_cnn,
        mnist1d_mlp,
        mnist1d_cnn,
        mnist_logreg,
        noisy_quadratic,
    )
}


def get(name: str) -> Workload:
    """The workload called ``name``.

    Raises:
      ValueError: no workload has that name (the message lists them).
    """
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; use one of {', '.join(WORKLOADS)}") from None


__all__ = ["DEFAULT", "WORKLOADS", "Reference", "Workload", "get"]

"""The PyTorch baseline: ``torch.optim`` step time on the same leaf shapes (optional extra).

Three implementations of each torch optimizer, chosen by keyword: ``for-loop``
(``foreach=False``: one set of kernels per parameter), ``foreach`` (multi-tensor kernels over
lists of parameters) and ``fused`` (one fused C++ kernel per parameter group, where torch has
one for that optimizer). ``optimizer.step()`` runs eagerly and synchronously on CPU, so timing
it needs no barrier. The gradients are set once and the step runs under ``torch.no_grad`` as
``optimizer.step`` always does. The hyperparameters follow each jaxopt_lab optimizer's defaults; the
conventions differ in places (where η sits in momentum, for instance), not the memory traffic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from jaxopt_lab.bench.step_time import LEARNING_RATE, PreparedStep, Shape, StepTiming

# jaxopt_lab name -> (torch.optim class name, keyword arguments besides lr).
TORCH_EQUIVALENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {"eps": 1e-8}),
    "adam": ("Adam", {"betas": (0.9, 0.999), "eps": 1e-8}),
    "rmsprop": ("RMSprop", {"alpha": 0.9, "eps": 1e-8}),
    "adadelta": ("Adadelta", {"rho": 0.9, "eps": 1e-6}),
    "nadam": ("NAdam", {"betas": (0.9, 0.999), "eps": 1e-8}),
    "adamw": ("AdamW", {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}),
}
VARIANTS: dict[str, dict[str, bool]] = {
    "for-loop": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
}


def torch_available() -> bool:
    """Whether PyTorch (the optional ``torch`` extra) can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_params(shapes: Sequence[Shape], seed: int = 0) -> list[Any]:
    """float32 ``torch.nn.Parameter`` leaves ~ N(0, 1) with gradients ~ 10⁻² N(0, 1) set."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=generator)) for s in shapes]
    for p in params:
        p.grad = 1e-2 * torch.randn(p.shape, generator=generator)
    return params


def prepare_torch_step(
    name: str,
    shapes: Sequence[Shape],
    variant: str,
    *,
    bytes_per_param: float,
    warmup: int = 2,
    seed: int = 0,
    params: list[Any] | None = None,
) -> PreparedStep | None:
    """torch's equivalent of ``name`` in float32, state created and warmed up.

    Returns None when torch has no such ``variant`` for this optimizer (e.g. no fused NAdam).
    ``bytes_per_param`` is the jaxopt_lab optimizer's, so the GB/s figures compare directly.
    ``params`` (``torch_params(shapes)``) may be shared between variants to save memory: each
    optimizer keeps its own state and the step time does not depend on the values.

    Raises:
      ValueError: for an optimizer without a torch equivalent or an unknown variant.
      ImportError: when PyTorch is not installed (``pip install -e '.[torch]'``).
    """
    if name not in TORCH_EQUIVALENTS:
        raise ValueError(
            f"no torch equivalent for {name!r}; known: {', '.join(TORCH_EQUIVALENTS)}."
        )
    if variant not in VARIANTS:
        raise ValueError(f"unknown torch variant {variant!r}; use one of {', '.join(VARIANTS)}.")
    if warmup < 0:
        raise ValueError(f"warmup={warmup} must be >= 0.")
    import torch

    params = torch_params(shapes, seed) if params is None else params
    class_name, kwargs = TORCH_EQUIVALENTS[name]
    try:
        optimizer = getattr(torch.optim, class_name)(
            params, lr=LEARNING_RATE, **kwargs, **VARIANTS[variant]
        )
        optimizer.step()  # the first step creates the state; fused support is checked here too
    except (RuntimeError, TypeError, ValueError) as error:
        if variant == "fused" and "fused" in str(error).lower():
            return None
        raise

    def run() -> float:
        start = time.perf_counter()
        optimizer.step()
        return time.perf_counter() - start

    for _ in range(warmup):
        run()
    n_params = sum(math.prod(s) for s in shapes)
    return PreparedStep(run, 0.0, n_params, len(shapes), bytes_per_param)


def time_torch_step(
    name: str,
    shapes: Sequence[Shape],
    variant: str,
    *,
    bytes_per_param: float,
    repeats: int = 10,
    warmup: int = 2,
    seed: int = 0,
) -> StepTiming | None:
    """Median ``optimizer.step()`` time of ``prepare_torch_step``'s optimizer, or None."""
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be >= 1.")
    prepared = prepare_torch_step(
        name, shapes, variant, bytes_per_param=bytes_per_param, warmup=warmup, seed=seed
    )
    return None if prepared is None else prepared.timing([prepared.run() for _ in range(repeats)])

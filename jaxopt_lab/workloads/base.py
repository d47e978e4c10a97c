"""What a workload is: its data, preprocessing, model, loss, metrics, defaults and targets.

A workload is one module of this package holding ``WORKLOAD = Workload(...)``, and one entry in
the table of ``jaxopt_lab.workloads``. The engine asks it for everything that depends on the
problem and assumes nothing else:

    data    = workload.load(config.data)          # a Dataset: train / val / test Splits
    stored  = rows of data.train (uint8 or float32, [N, D]): the training set on the device
    x       = workload.inputs(stored[batch])      # inside the compiled step (val/test: once)
    model   = workload.model(config.model)        # a Flax module: apply(params, x [B, D])
    ℓ(θ)    = Σ w·workload.loss(model(x), y) / Σ w
    metrics = workload.metrics(model(x_val), y)   # (loss, accuracy); accuracy NaN: none

Samples travel as flat rows ``[N, D]``; a model that wants another shape (a CNN's
``[B, 28, 28, 1]``) reshapes its input itself, so the engine, its sharding and its checkpoints
are the same for every workload. A workload's ``batch_size``, ``epochs`` and ``last_batch`` are
the defaults of a config that does not set them in its ``train`` section.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import numpy as np

from jaxopt_lab.data.splits import Dataset, normalize
from jaxopt_lab.losses import Loss, Metrics, classification_metrics, cross_entropy

if TYPE_CHECKING:
    from jaxopt_lab.config import DataConfig, ModelConfig


# What a reference figure can measure (the workloads study computes each from a run's records):
# the final validation accuracy, the test metrics of the final parameters, the optimizer steps
# until the validation accuracy first reaches the workload's target (counted at epoch ends),
# and the final training loss less the workload's optimum.
REFERENCE_METRICS = (
    "val_accuracy",
    "test_accuracy",
    "test_loss",
    "steps_to_target",
    "optimality_gap",
)


@dataclasses.dataclass(frozen=True)
class Reference:
    """A published figure the workloads study sets its own beside: ``metric`` (one of
    ``REFERENCE_METRICS``) reached ``value`` with ``setting``, as ``source`` says; a result is
    called reproduced within ``tolerance`` of it (accuracies: absolute; losses: relative;
    steps: at most the reference)."""

    metric: str
    value: float
    setting: str
    source: str
    tolerance: float = 0.0


@dataclasses.dataclass(frozen=True)
class Workload:
    """One problem the engine trains on (see the module docstring for how each part is used).

    ``train_size`` is the number of training samples before ``data.train_size`` keeps fewer
    (step counts need it before any data is loaded). ``target``: the validation accuracy a
    time-to-target measure asks for, None for none. ``model_settings``: whether the config's
    ``model`` section applies (only the notebook's MLP has settings; any other workload's model
    is fixed and a changed ``model`` section is an error). ``data_settings``: which of
    ``data.source`` and ``data.split_seed`` apply (MNIST's sources and split; a generated data
    set has neither). ``flops_per_sample``: the training FLOPs of one sample (forward and
    backward), for throughput against a roofline. ``optimum``: for a convex problem, the
    minimum of the mean training loss over a data set's training split
    (``{"train_loss": …, …}``), which studies set results against. ``eval_batch``: evaluate a
    split in chunks of at most this many samples (None: all at once), for models whose
    activations on a whole split, for every run at once, would not fit in memory.
    """

    name: str
    title: str
    load: Callable[[DataConfig], Dataset]
    model: Callable[[ModelConfig], nn.Module]
    train_size: int
    batch_size: int
    epochs: int
    flops_per_sample: Callable[[ModelConfig], int]
    last_batch: str = "mask"
    inputs: Callable[[Any], Any] = normalize
    loss: Loss = cross_entropy
    metrics: Metrics = classification_metrics
    has_accuracy: bool = True
    target: float | None = None
    reference: Reference | None = None
    model_settings: bool = False
    data_settings: tuple[str, ...] = ("source", "split_seed")
    optimum: Callable[[Dataset], dict[str, Any]] | None = None
    eval_batch: int | None = None

    def problems(self, model: ModelConfig, data: DataConfig) -> list[tuple[str, str]]:
        """``(key, message)`` for each setting of the config this workload cannot honour."""
        from jaxopt_lab.config import DataConfig, ModelConfig

        out = []
        if not self.model_settings and model != ModelConfig():
            out.append(
                (
                    "model",
                    f"workload {self.name} has a fixed model ({self.title}); the model section "
                    "sets the MLP of the mnist_mlp workload only: remove it",
                )
            )
        defaults = DataConfig()
        for key in ("source", "split_seed"):
            if key not in self.data_settings and getattr(data, key) != getattr(defaults, key):
                out.append(
                    (
                        f"data.{key}",
                        f"workload {self.name} makes its own data and has no {key}: remove "
                        f"data.{key} (default {getattr(defaults, key)!r})",
                    )
                )
        return out


def identity(x: Any) -> Any:
    """Inputs stored as they are fed (float32 samples)."""
    return x


def scale_to_unit(images: Any) -> Any:
    """Pixels p ↦ p/255 in [0, 1] (Flax's MNIST example), for NumPy and JAX arrays alike."""
    return images.astype(np.float32) / np.float32(255.0)


def no_accuracy(metric: Callable[[Any, Any], Any]) -> Metrics:
    """Metrics of a workload with no accuracy: (mean of the per-sample ``metric``, NaN), which
    the engine writes as a null accuracy."""
    import jax.numpy as jnp

    def metrics(outputs, labels):
        return jnp.mean(metric(outputs, labels)), jnp.float32(jnp.nan)

    return metrics


def load_mnist_splits(data: DataConfig) -> Dataset:
    """MNIST as ``data`` asks (source, cache, split seed): the notebook's 50k/10k/10k split."""
    from jaxopt_lab.data import load_mnist  # the data layer; imported only when loading

    return load_mnist(source=data.source, cache_dir=data.cache_dir, split_seed=data.split_seed)

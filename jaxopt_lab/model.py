"""The notebook's MLP in Flax (linen), with PyTorch's or Flax's initialisation.

``SimpleNN`` of the notebook: Flatten → Linear(784, 128) → ReLU → Linear(128, 10), returning
logits. ``hidden_sizes`` and ``activation`` generalise it.

Initialisation ``torch`` is ``nn.Linear.reset_parameters``: kaiming-uniform with a = √5 for the
weight, i.e. bound = gain·√(3/fan_in) with gain = √(2/(1+a²)) = √(1/3), so W ~ U(±1/√fan_in),
and b ~ U(±1/√fan_in). ``flax`` is ``nn.Dense``'s default: LeCun-normal (truncated,
variance 1/fan_in) weights and zero biases.

Why Linen and not NNX, which Flax recommends to new users: the engine trains many runs at once
by ``vmap`` over stacked parameter pytrees inside one compiled epoch, which wants a pure
``apply(params, x)`` and parameters as a plain pytree; Linen gives exactly that. Every
jaxopt_lab optimizer also drives ``nnx.Optimizer`` (docs/optimizers.md, ``tests/test_nnx.py``
checks it takes the same steps as the functional path).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATION_FUNCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": nn.sigmoid,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "elu": nn.elu,
}
INIT_SCHEMES = ("torch", "flax")
INPUT_WIDTH = 28 * 28  # an MNIST image, flattened
NUM_CLASSES = 10


class ModelSettings(Protocol):
    """The fields a model is built from: a config's ``model`` section (``ModelConfig``) or any
    object that has them. Config validates its settings against the lists above, so it imports
    this module, and this module imports no config."""

    @property
    def hidden_sizes(self) -> Sequence[int]: ...

    @property
    def activation(self) -> str: ...

    @property
    def init(self) -> str: ...


def torch_uniform(fan_in: int) -> Callable[..., jax.Array]:
    """U(±1/√fan_in), PyTorch's default for both the weight and the bias of ``nn.Linear``."""
    bound = 1.0 / fan_in**0.5

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class MLP(nn.Module):
    """``x [..., 784] → hidden_sizes (activation) → 10 logits``."""

    hidden_sizes: Sequence[int] = (128,)
    activation: str = "relu"
    init_scheme: str = "torch"  # not `init`, which would shadow Module.init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATION_FUNCTIONS[self.activation]
        for i, width in enumerate((*self.hidden_sizes, NUM_CLASSES)):
            x = self._dense(width, x.shape[-1])(x)
            if i < len(self.hidden_sizes):
                x = act(x)
        return x

    def _dense(self, width: int, fan_in: int) -> nn.Dense:
        if self.init_scheme == "torch":
            return nn.Dense(
                width, kernel_init=torch_uniform(fan_in), bias_init=torch_uniform(fan_in)
            )
        if self.init_scheme == "flax":
            return nn.Dense(width)
        raise ValueError(
            f"unknown init scheme {self.init_scheme!r}; use one of {', '.join(INIT_SCHEMES)}"
        )


def make_model(config: ModelSettings) -> MLP:
    """The MLP described by ``config`` (a ``ModelConfig``)."""
    return MLP(tuple(config.hidden_sizes), config.activation, config.init)


def init_params(model: MLP, key: jax.Array, input_dim: int = INPUT_WIDTH) -> dict:
    """The model's parameters (``{'params': …}``) for inputs of width ``input_dim``."""
    return model.init(key, jnp.zeros((1, input_dim), jnp.float32))


def count_flops_per_sample(config: ModelSettings, input_dim: int = INPUT_WIDTH) -> int:
    """Matmul FLOPs of one training sample: 2·MACs forward + 2·MACs for weight gradients +
    2·MACs for input gradients of every layer but the first (the data needs no gradient).

    For 784-128-10: 4·(784·128 + 128·10) + 2·128·10 = 409,088.
    """
    return dense_flops([input_dim, *config.hidden_sizes, NUM_CLASSES])


def dense_flops(widths: Sequence[int]) -> int:
    """Training FLOPs of one sample through dense layers of ``widths`` (input first), counted
    as ``count_flops_per_sample`` does."""
    return training_flops([a * b for a, b in itertools.pairwise(widths)])


def training_flops(macs: Sequence[int]) -> int:
    """Training FLOPs of one sample through layers of ``macs`` multiply-adds each (input side
    first): 2·MACs forward, 2·MACs for the weight gradients, 2·MACs for the input gradients of
    every layer but the first (the data needs no gradient)."""
    return 4 * sum(macs) + 2 * sum(macs[1:])

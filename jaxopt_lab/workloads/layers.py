"""Layers the workloads share: convolutions written as one matmul over patches (im2col).

``nn.Conv`` lowers to XLA's convolution, whose gradients XLA:CPU computes slowly at these
sizes: the CNN of Flax's MNIST example trained at 150 samples/s with ``nn.Conv`` and 2,434
samples/s with ``PatchConv`` in one process on the lab's 2-core CPU (docs/workloads.md has the
command). ``PatchConv`` is the same function: the patches ``[B, H, W, k·k·C]`` of the padded
input, in (row, column, channel) order, times the kernel ``[k, k, C, F]`` flattened to
``[k·k·C, F]``, plus the bias; the kernel has ``nn.Conv``'s shape and initialisation (LeCun
normal, zero bias), so optimizers see the leaves they would see with ``nn.Conv``.
``tests/workloads`` checks both agree.

``PatchConv1D`` is the 1-D convolution of PyTorch's ``Conv1d`` (stride and symmetric zero
padding), with its default initialisation U(±1/√(C·k)) for kernel and bias.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxopt_lab.model import torch_uniform


def patches_2d(x: jax.Array, size: int) -> jax.Array:
    """``[B, H, W, C] → [B, H, W, size·size·C]``: each pixel's ``size × size`` neighbourhood
    (zero padded, "SAME"), in (row, column, channel) order."""
    height, width = x.shape[1:3]
    before = (size - 1) // 2
    padded = jnp.pad(x, ((0, 0), (before, size - 1 - before), (before, size - 1 - before), (0, 0)))
    shifted = [
        padded[:, i : i + height, j : j + width, :] for i in range(size) for j in range(size)
    ]
    return jnp.concatenate(shifted, axis=-1)


class PatchConv(nn.Module):
    """``nn.Conv(features, (size, size))`` with stride 1 and "SAME" padding, as a matmul."""

    features: int
    size: int = 3
    kernel_init: Callable[..., jax.Array] = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        shape = (self.size, self.size, channels, self.features)
        kernel = self.param("kernel", self.kernel_init, shape)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        flat = kernel.reshape(self.size * self.size * channels, self.features)
        return patches_2d(x, self.size) @ flat + bias


def patches_1d(x: jax.Array, size: int, stride: int, padding: int) -> jax.Array:
    """``[B, L, C] → [B, L′, size·C]``, L′ = ⌊(L + 2·padding − size)/stride⌋ + 1: the windows
    of a strided 1-D convolution, in (offset, channel) order."""
    padded = jnp.pad(x, ((0, 0), (padding, padding), (0, 0)))
    length = (x.shape[1] + 2 * padding - size) // stride + 1
    end = stride * (length - 1) + 1
    windows = [padded[:, k : k + end : stride, :] for k in range(size)]
    return jnp.concatenate(windows, axis=-1)


class PatchConv1D(nn.Module):
    """PyTorch's ``Conv1d(C, features, size, stride, padding)`` on ``[B, L, C]`` inputs, with
    its default initialisation; the kernel is ``[size, C, features]``."""

    features: int
    size: int
    stride: int = 1
    padding: int = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        init = torch_uniform(channels * self.size)
        kernel = self.param("kernel", init, (self.size, channels, self.features))
        bias = self.param("bias", init, (self.features,))
        windows = patches_1d(x, self.size, self.stride, self.padding)
        return windows @ kernel.reshape(self.size * channels, self.features) + bias


def torch_dense(width: int, fan_in: int) -> nn.Dense:
    """``nn.Dense`` with PyTorch's ``nn.Linear`` initialisation (U(±1/√fan_in) for both)."""
    return nn.Dense(width, kernel_init=torch_uniform(fan_in), bias_init=torch_uniform(fan_in))

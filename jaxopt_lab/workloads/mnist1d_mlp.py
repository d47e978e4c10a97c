"""``mnist1d_mlp``: the MLP of the MNIST-1D paper (Greydanus 2020, "Scaling down deep learning").

    h₁ = ReLU(W₁x + b₁)            x: a 40-sample signal, as generated (no preprocessing)
    h₂ = h₁ + ReLU(W₂h₁ + b₂)      the paper's ``MLPBase``: the second layer is residual
    z  = W₃h₂ + b₃                 40 → 100 → 100 → 10, PyTorch's default initialisation

trained as the paper's ``train.py``: Adam, learning rate 1e-2, no weight decay, batch 100, about
6,000 steps, cross-entropy. Reference: ≈ 68 % test accuracy (the README's table).

Departures: the paper draws its batches in order through the training set (here shuffled
each epoch, as every workload of the lab), and trains on all 4,000 generated training samples;
here 500 of them are the validation split (``jaxopt_lab.data.mnist1d``), so an epoch is 35
steps and 171 epochs are 5,985 steps.
"""

import flax.linen as nn
import jax

from jaxopt_lab.data.mnist1d import NUM_TRAIN, VAL_SIZE, load_mnist1d
from jaxopt_lab.model import dense_flops
from jaxopt_lab.workloads.base import Reference, Workload, identity
from jaxopt_lab.workloads.layers import torch_dense


class ResidualMLP(nn.Module):
    """The paper's ``MLPBase`` on rows ``[B, 40]``."""

    width: int = 100

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.relu(torch_dense(self.width, x.shape[-1])(x))
        h = h + nn.relu(torch_dense(self.width, self.width)(h))
        return torch_dense(10, self.width)(h)


WORKLOAD = Workload(
    name="mnist1d_mlp",
    title="the MNIST-1D paper's residual MLP 40-100-100-10",
    load=lambda data: load_mnist1d(data.cache_dir, data.split_seed),
    model=lambda _: ResidualMLP(),
    train_size=NUM_TRAIN - VAL_SIZE,
    batch_size=100,
    epochs=171,
    flops_per_sample=lambda _: dense_flops([40, 100, 100, 10]),
    inputs=identity,
    reference=Reference(
        metric="test_accuracy",
        value=0.68,
        setting="Adam lr 1e-2, batch 100, 6,000 steps on 4,000 samples",
        source="MNIST-1D README (Greydanus 2020)",
        tolerance=0.03,
    ),
    data_settings=("split_seed",),
)

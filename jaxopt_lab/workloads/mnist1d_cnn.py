"""``mnist1d_cnn``: the CNN of the MNIST-1D paper (Greydanus 2020, "Scaling down deep learning").

    x [B, 40, 1]  → Conv1d(1→25, k 5, stride 2, pad 1) → ReLU      [B, 19, 25]
                  → Conv1d(25→25, k 3, stride 2, pad 1) → ReLU     [B, 10, 25]
                  → Conv1d(25→25, k 3, stride 2, pad 1) → ReLU     [B, 5, 25]
                  → flatten (125) → Linear(125 → 10)

the paper's ``ConvBase`` with PyTorch's default initialisation (``layers.PatchConv1D``),
trained as its ``train.py``: Adam, learning rate 1e-2, no weight decay, batch 100, about 6,000
steps, cross-entropy. Reference: ≈ 94 % test accuracy (the README's table).

Departures: the flatten takes (position, channel) order where torch's takes (channel,
position), a fixed permutation of the last layer's inputs (the same distribution of models);
batches are shuffled each epoch and 500 of the 4,000 training samples are the validation split
(see ``mnist1d_mlp``). Optimizers see 3-D kernels ``[k, in, out]``; Muon leaves them to its
AdamW part unless ``muon_mask`` gives them to it, as (k·in) × out matrices.
"""

import flax.linen as nn
import jax

from jaxopt_lab.data.mnist1d import NUM_TRAIN, VAL_SIZE, load_mnist1d
from jaxopt_lab.model import training_flops
from jaxopt_lab.workloads.base import Reference, Workload, identity
from jaxopt_lab.workloads.layers import PatchConv1D, torch_dense


class ConvNet1D(nn.Module):
    """The paper's ``ConvBase`` on rows ``[B, 40]``."""

    channels: int = 25

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape((x.shape[0], x.shape[1], 1))
        x = nn.relu(PatchConv1D(self.channels, 5, stride=2, padding=1)(x))
        x = nn.relu(PatchConv1D(self.channels, 3, stride=2, padding=1)(x))
        x = nn.relu(PatchConv1D(self.channels, 3, stride=2, padding=1)(x))
        x = x.reshape((x.shape[0], -1))
        return torch_dense(10, x.shape[-1])(x)


# Multiply-adds per sample: outputs × kernel size × input channels, then the linear layer.
MACS = (19 * 25 * 5 * 1, 10 * 25 * 3 * 25, 5 * 25 * 3 * 25, 125 * 10)

WORKLOAD = Workload(
    name="mnist1d_cnn",
    title="the MNIST-1D paper's 1-D CNN (3 conv layers of 25 channels)",
    load=lambda data: load_mnist1d(data.cache_dir, data.split_seed),
    model=lambda _: ConvNet1D(),
    train_size=NUM_TRAIN - VAL_SIZE,
    batch_size=100,
    epochs=171,
    flops_per_sample=lambda _: training_flops(MACS),
    inputs=identity,
    reference=Reference(
        metric="test_accuracy",
        value=0.94,
        setting="Adam lr 1e-2, batch 100, 6,000 steps on 4,000 samples",
        source="MNIST-1D README (Greydanus 2020)",
        tolerance=0.03,
    ),
    data_settings=("split_seed",),
)

"""``mnist_cnn``: the CNN of Flax's MNIST example (``examples/mnist`` of the Flax repository).

    x [B, 28, 28, 1] = p/255
    Conv(32, 3×3, SAME) → ReLU → avg_pool 2×2 → Conv(64, 3×3, SAME) → ReLU → avg_pool 2×2
    → flatten (3,136) → Dense(256) → ReLU → Dense(10)

with Flax's default initialisation (LeCun-normal kernels, zero biases) and cross-entropy; the
example trains it with SGD, momentum 0.9, learning rate 0.1, batch 128, for 10 epochs. The
convolutions are ``layers.PatchConv`` (one matmul over 3×3 patches, the same function as
``nn.Conv``, 16× faster to train on XLA:CPU).

Departures from the example: it trains on all 60,000 training images and reports accuracy on
the 10,000 test images; here it trains on the notebook's 50,000 and validates on the other
10,000 (the same test set). It has no dropout or batch normalisation, so neither has this.

Optimizers see 4-D kernels ``[3, 3, in, out]``: Muon (``jol.muon``) leaves them to its AdamW
part by default; with ``muon_mask`` it orthogonalises them as ``(3·3·in) × out`` matrices
(fan_in × fan_out, as Jordan's code flattens torch's filters), which ``tests/workloads`` checks.
"""

import flax.linen as nn
import jax

from jaxopt_lab.model import training_flops
from jaxopt_lab.workloads.base import Reference, Workload, load_mnist_splits, scale_to_unit
from jaxopt_lab.workloads.layers import PatchConv


class CNN(nn.Module):
    """Flax's MNIST CNN on rows ``[B, 784]`` of pixels in [0, 1]."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape((x.shape[0], 28, 28, 1))
        x = nn.avg_pool(nn.relu(PatchConv(32)(x)), (2, 2), (2, 2))
        x = nn.avg_pool(nn.relu(PatchConv(64)(x)), (2, 2), (2, 2))
        x = nn.relu(nn.Dense(256)(x.reshape((x.shape[0], -1))))
        return nn.Dense(10)(x)


# Multiply-adds of each layer for one image: the two convolutions (outputs × 3·3·in), the
# two dense layers.
MACS = (28 * 28 * 32 * 9 * 1, 14 * 14 * 64 * 9 * 32, 7 * 7 * 64 * 256, 256 * 10)

WORKLOAD = Workload(
    name="mnist_cnn",
    title="the CNN of Flax's MNIST example",
    load=load_mnist_splits,
    model=lambda _: CNN(),
    train_size=50_000,
    batch_size=128,
    epochs=10,
    flops_per_sample=lambda _: training_flops(MACS),
    inputs=scale_to_unit,
    eval_batch=1_000,  # 10,000 images at once: 3 GB of activations per run
    target=0.99,
    reference=Reference(
        metric="test_accuracy",
        value=0.9917,
        setting="SGD momentum 0.9, lr 0.1, batch 128, 10 epochs on 60,000 images",
        source="Flax examples/mnist README",
        tolerance=0.005,
    ),
)

"""``algoperf_mnist``: AlgoPerf's MNIST development workload (mlcommons/algorithmic-efficiency,
``algoperf/workloads/mnist``), the smallest workload of its benchmark.

    x = (p − 0.1307)/0.3081, flattened → Dense(128) → sigmoid → Dense(10)

with Flax's default initialisation (LeCun-normal kernels, zero biases) and cross-entropy;
AlgoPerf's split of the 60,000 training images: the first 50,000 train, the last 10,000
validate, in order (not the notebook's seeded permutation: ``data.split_seed`` does not
apply); the 10,000 test images test. Its target is a validation accuracy of 0.97, its step
hint 7,813 steps and its time budget 60 s on AlgoPerf's hardware.

The normalisation is AlgoPerf's code as it stands: its constants are those of pixels scaled
to [0, 1] (p/255), but it applies them to the raw pixels p ∈ [0, 255] (inputs up to 827).
The defaults, batch 64 for 10 epochs (7,820 steps), are the protocol its step hint names
("10 epochs at batch size 64"); AlgoPerf's MNIST development algorithm uses Adam at batch 1,024.

Departures: AlgoPerf's input pipeline repeats and shuffles through the data continuously;
here each epoch is one shuffled pass (the last partial batch masked), so steps to the target
are counted at epoch ends.
"""

import numpy as np

from jaxopt_lab.data.splits import Dataset, Split
from jaxopt_lab.model import MLP, dense_flops
from jaxopt_lab.workloads.base import Reference, Workload

MEAN, STD = 0.1307, 0.3081  # AlgoPerf's constants (of p/255), applied to p as its code does
TRAIN = 50_000


def inputs(images):
    """(p − 0.1307)/0.3081 of the raw pixels, float32, for NumPy and JAX arrays alike."""
    return (images.astype(np.float32) - np.float32(MEAN)) / np.float32(STD)


def load(data) -> Dataset:
    """MNIST as ``data.source`` and ``data.cache_dir`` say, split in order as AlgoPerf."""
    from jaxopt_lab.data import load_arrays  # the data layer; imported only when loading

    loaded = load_arrays(data.source, data.cache_dir)
    arrays = loaded.arrays
    labels = arrays.train_labels.astype(np.int32)
    return Dataset(
        train=Split(arrays.train_images[:TRAIN], labels[:TRAIN]),
        val=Split(arrays.train_images[TRAIN:], labels[TRAIN:]),
        test=Split(arrays.test_images, arrays.test_labels.astype(np.int32)),
        split_seed=0,
        source=f"{loaded.source} (AlgoPerf's in-order 50,000/10,000 split)",
        sha256=dict(loaded.sha256),
        verified=loaded.verified,
    )


WORKLOAD = Workload(
    name="algoperf_mnist",
    title="AlgoPerf's MNIST workload: MLP 784-128-10, sigmoid, Flax init",
    load=load,
    model=lambda _: MLP((128,), "sigmoid", "flax"),
    train_size=TRAIN,
    batch_size=64,
    epochs=10,
    flops_per_sample=lambda _: dense_flops([784, 128, 10]),
    inputs=inputs,
    target=0.97,
    reference=Reference(
        metric="steps_to_target",
        value=7813,
        tolerance=0,
        setting="target validation accuracy 0.97 within AlgoPerf's step hint",
        source="AlgoPerf documentation (DOCUMENTATION.md), MNIST workload",
    ),
    data_settings=("source",),
)

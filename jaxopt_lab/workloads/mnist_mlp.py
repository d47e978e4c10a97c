"""``mnist_mlp``: the workshop notebook's MLP on MNIST, the lab's default workload.

Flatten → Linear(784, 128) → ReLU → Linear(128, 10) with PyTorch's initialisation
(``jaxopt_lab.model``), inputs (p/255 − 0.5)/0.5, cross-entropy, the notebook's 50,000 /
10,000 / 10,000 split, batch 32, 15 epochs. The only workload whose ``model`` section applies
(hidden sizes, activation, initialisation). Reference: the notebook's printed epoch-15
validation accuracy of Adam (lr 1e-3), 0.9665 (one run; the seed table has all five).
"""

from jaxopt_lab.data.splits import normalize
from jaxopt_lab.model import count_flops_per_sample, make_model
from jaxopt_lab.workloads.base import Reference, Workload, load_mnist_splits

WORKLOAD = Workload(
    name="mnist_mlp",
    title="the notebook's MLP 784-128-10 on MNIST",
    load=load_mnist_splits,
    model=make_model,
    train_size=50_000,
    batch_size=32,
    epochs=15,
    flops_per_sample=count_flops_per_sample,
    inputs=normalize,
    target=0.97,
    reference=Reference(
        metric="val_accuracy",
        value=0.9665,
        setting="Adam lr 1e-3, batch 32, 15 epochs, one run",
        source="the workshop notebook's printed results (seed/notebook.md)",
        tolerance=0.006,
    ),
    model_settings=True,
)

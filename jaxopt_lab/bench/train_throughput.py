"""Training throughput of the engine on a workload, the machine's matmul roofline, and a
PyTorch baseline.

Each measurement compiles first, runs one untimed warm-up epoch, then times whole epochs with
the results blocked on; data loading and printing stay outside the timed region.

    samples/s         = runs · samples per epoch / seconds per epoch  (model-samples/s, runs > 1)
    achieved FLOP/s   = samples/s · FLOPs per sample  (the workload's ``flops_per_sample``)
    roofline          = matmul FLOP/s / FLOPs per sample
    roofline fraction = samples/s / roofline

Two rooflines: a square ``1024³`` matmul's rate (the machine's best), and the *matched* one, a
matmul timed at the shape of the workload's dominant layer at its batch size
(``BENCH_SHAPES``), the rate its own largest product can reach on this machine.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import jax
import numpy as np

from jaxopt_lab import workloads
from jaxopt_lab.bench.roofline import matmul_flops
from jaxopt_lab.config import Config, ModelConfig, OptimizerConfig, TrainConfig, WorkloadConfig
from jaxopt_lab.data.splits import MNIST, Split, flatten
from jaxopt_lab.engine.mesh import Placement
from jaxopt_lab.engine.placement import device_splits
from jaxopt_lab.engine.programs import RunSet, compile_run_set, initial_states, run_epoch
from jaxopt_lab.model import INPUT_WIDTH

IMAGE_SHAPE = (28, 28)


@dataclasses.dataclass(frozen=True)
class BenchShape:
    """What the benchmark needs of a workload beyond ``workloads.Workload``: the shape and dtype
    of one stored sample and the size of its validation split (its synthetic data, as large as
    its real data by default), and the matmul of its dominant layer, the one with the most
    multiply-adds per sample (its matched roofline).

    That matmul is ``[B·rows, k] @ [k, n]`` at batch ``B``: ``rows`` positions per sample (a
    convolution written as im2col, ``workloads/layers.py``, has one row per output position),
    ``k`` the inputs and ``n`` the outputs of each; ``layer`` says which layer it is.
    """

    sample: tuple[int, ...]
    dtype: type
    val_size: int
    rows: int
    k: int
    n: int
    layer: str

    def matmul(self, batch_size: int) -> tuple[int, int, int]:
        """``(m, k, n)`` of the dominant matmul at ``batch_size``."""
        return (batch_size * self.rows, self.k, self.n)


# The table: one entry per workload of ``jaxopt_lab.workloads.WORKLOADS``. A workload without
# one fails tests/bench/test_train_throughput.py, which also checks each entry's sample shape
# and matmul against the workload's traced model and loss.
BENCH_SHAPES: dict[str, BenchShape] = {
    "mnist_mlp": BenchShape(IMAGE_SHAPE, np.uint8, 10_000, 1, 784, 128, "dense 1, 784 → 128"),
    "algoperf_mnist": BenchShape(IMAGE_SHAPE, np.uint8, 10_000, 1, 784, 128, "dense 1, 784 → 128"),
    # conv 2 (3.6M of the 4.6M multiply-adds): 14·14 positions × 3·3·32 inputs → 64 channels
    "mnist_cnn": BenchShape(IMAGE_SHAPE, np.uint8, 10_000, 14 * 14, 288, 64, "conv 2 as im2col"),
    # the residual layer (10,000 of 15,000 multiply-adds)
    "mnist1d_mlp": BenchShape((40,), np.float32, 500, 1, 100, 100, "dense 2, 100 → 100"),
    # conv 2 (18,750 of 31,750): 10 positions × 3·25 inputs → 25 channels
    "mnist1d_cnn": BenchShape((40,), np.float32, 500, 10, 75, 25, "conv 2 as im2col"),
    "mnist_logreg": BenchShape(IMAGE_SHAPE, np.uint8, 10_000, 1, 784, 10, "the layer, 784 → 10"),
    # the model has no matmul; the loss's (θ − x)·Q is the problem's one product
    "noisy_quadratic": BenchShape((100,), np.float32, 1_000, 1, 100, 100, "the loss's (θ − x)·Q"),
}


def bench_shape(workload: str) -> BenchShape:
    """The ``BENCH_SHAPES`` entry of ``workload``.

    Raises:
      ValueError: no workload has that name, or it has no entry (add one).
    """
    workloads.get(workload)  # an unknown name: the error lists the workloads
    try:
        return BENCH_SHAPES[workload]
    except KeyError:
        raise ValueError(
            f"workload {workload!r} has no entry in BENCH_SHAPES "
            "(jaxopt_lab/bench/train_throughput.py): add its sample shape and dominant matmul"
        ) from None


def synthetic_mnist(n_train: int, n_val: int, seed: int = 0) -> MNIST:
    """Random uint8 images and labels (the test split is the validation split): throughput
    does not depend on the pixels."""
    rng = np.random.default_rng(seed)
    train = Split(
        rng.integers(0, 256, (n_train, *IMAGE_SHAPE), np.uint8), rng.integers(0, 10, n_train)
    )
    val = Split(rng.integers(0, 256, (n_val, *IMAGE_SHAPE), np.uint8), rng.integers(0, 10, n_val))
    return MNIST(train=train, val=val, test=val, split_seed=0, source="synthetic")


def synthetic_data(workload: str, n_train: int, n_val: int, seed: int = 0) -> MNIST:
    """Random samples of ``workload``'s stored shape and dtype (``BENCH_SHAPES``): uint8 pixels
    as ``synthetic_mnist`` for the MNIST workloads, standard normal float32 rows for the others;
    labels in 0 … 9, or zeros for a workload without accuracy (the noisy quadratic's)."""
    shape = bench_shape(workload)
    if shape.dtype == np.uint8:
        data = synthetic_mnist(n_train, n_val, seed)
    else:
        rng = np.random.default_rng(seed)

        def split(n: int) -> Split:
            samples = rng.standard_normal((n, *shape.sample), np.float32)
            return Split(samples, rng.integers(0, 10, n))

        train, val = split(n_train), split(n_val)
        data = MNIST(train=train, val=val, test=val, split_seed=0, source="synthetic")
    if workloads.get(workload).has_accuracy:
        return data

    def unlabelled(split: Split) -> Split:
        return Split(split.images, np.zeros(len(split.labels), np.int64))

    val = unlabelled(data.val)
    return dataclasses.replace(data, train=unlabelled(data.train), val=val, test=val)


SEED_TABLE = ("sgd", "momentum", "nesterov", "adagrad", "adam")  # the seed comparison's rows


def engine_throughput(
    *,
    runs: int = 1,
    seeds: int = 1,
    optimizer: str | tuple[str, ...] = "adam",
    epochs: int = 2,
    n_train: int = 50_000,
    n_val: int = 10_000,
    batch_size: int | None = None,
    hidden_sizes: tuple[int, ...] = (128,),
    unroll: int = 1,
    workload: str = workloads.DEFAULT,
) -> dict[str, float]:
    """The engine's epoch programs for ``runs`` learning rates × ``seeds`` seeds of one
    optimizer, or of each of several (a group each, as a study's run set trains them), on
    ``workload`` (its default batch size unless ``batch_size`` is given).

    Learning rates and groups of one seed share each batch; seeds each gather their own.
    Returns ``samples_per_second`` (model-samples/s: all runs counted),
    ``samples_per_cpu_second``, ``compile_seconds`` (the epoch program) and
    ``epoch_seconds`` (the median timed epoch, validation included).

    The run set goes through the engine's own entry (``engine.programs``) on one device, with
    the data placed as ``engine.train`` places it, so this times the programs training runs.
    """
    names = (optimizer,) if isinstance(optimizer, str) else optimizer
    run_set = synthetic_run_set(
        names,
        runs=runs,
        seeds=seeds,
        epochs=epochs + 1,
        n_train=n_train,
        n_val=n_val,
        batch_size=batch_size,
        hidden_sizes=hidden_sizes,
        unroll=unroll,
        workload=workload,
    )
    states = initial_states(run_set)
    times, cpu_times = [], []
    for epoch in range(1, epochs + 2):  # the first epoch warms up
        cpu_start = time.process_time()
        states, seconds = timed_epoch(run_set, states, epoch)
        times.append(seconds)
        cpu_times.append(time.process_time() - cpu_start)
    epoch_seconds = float(np.median(times[1:]))
    samples = len(names) * seeds * runs * run_set.programs.spec.samples_per_epoch
    return {
        "samples_per_second": samples / epoch_seconds,
        # Per CPU-second of this process (all its threads): less sensitive to other jobs
        # than the wall-clock figure, though they still slow it through shared caches.
        "samples_per_cpu_second": samples / float(np.median(cpu_times[1:])),
        "compile_seconds": run_set.programs.compile_seconds["epoch"],
        "epoch_seconds": epoch_seconds,
    }


def timed_epoch(run_set: RunSet, states: Any, epoch: int) -> tuple[Any, float]:
    """``run_epoch`` with its metrics blocked on: the new states and the wall seconds."""
    start = time.perf_counter()
    states, metrics = run_epoch(run_set, states, epoch)
    jax.block_until_ready(metrics)
    return states, time.perf_counter() - start


def synthetic_run_set(
    optimizers: tuple[str, ...],
    *,
    runs: int = 1,
    seeds: int = 1,
    epochs: int = 3,
    n_train: int = 50_000,
    n_val: int = 10_000,
    batch_size: int | None = None,
    hidden_sizes: tuple[int, ...] = (128,),
    unroll: int = 1,
    place: Placement | None = None,
    workload: str = workloads.DEFAULT,
) -> RunSet:
    """A compiled run set of ``workload`` on its ``synthetic_data``: each of ``optimizers`` a
    group of ``runs`` learning rates (1e-4 … 1e-3, log-spaced) × ``seeds`` seeds, at the
    workload's batch size (or ``batch_size``) and last batch, on one device or ``place``.
    ``hidden_sizes`` sets the MLP of ``mnist_mlp``; other workloads have fixed models."""
    spec = workloads.get(workload)
    train = TrainConfig(
        epochs=epochs,
        batch_size=spec.batch_size if batch_size is None else batch_size,
        seeds=list(range(seeds)),
        last_batch=spec.last_batch,
    )
    configs = {
        name: Config(
            optimizer=OptimizerConfig(name, np.geomspace(1e-4, 1e-3, runs).tolist()),
            workload=WorkloadConfig(workload),
            model=ModelConfig(hidden_sizes=list(hidden_sizes)),
            train=train,
        )
        for name in optimizers
    }
    place = Placement() if place is None else place
    data = synthetic_data(workload, n_train, n_val)
    splits = device_splits(configs[optimizers[0]], data, place)
    return compile_run_set(configs, splits, place, unroll=unroll)


def roofline(
    flops_per_second: float, model: ModelConfig | None = None, workload: str = workloads.DEFAULT
) -> dict[str, float]:
    """FLOPs per training sample of ``workload`` (its ``flops_per_sample``; ``model`` sets the
    MLP of ``mnist_mlp``) and the samples/s a perfect matmul-bound step would reach."""
    flops = workloads.get(workload).flops_per_sample(model or ModelConfig())
    return {"flops_per_sample": flops, "roofline_samples_per_second": flops_per_second / flops}


# Each timed call of the matched matmul does about as many FLOPs as mnist_mlp's 200 products of
# [32, 784] @ [784, 128] (1.28 GFLOP), so small shapes are not timing the dispatch.
MATCHED_MATMUL_FLOPS = 2 * 32 * 784 * 128 * 200


def matched_matmul(workload: str, batch_size: int, repeats: int = 5) -> dict[str, Any]:
    """Median FLOP/s of ``workload``'s dominant matmul at ``batch_size`` (``BENCH_SHAPES``):
    ``{"shape": [m, k, n], "layer", "flops_per_second"}``."""
    shape = bench_shape(workload)
    m, k, n = shape.matmul(batch_size)
    inner = max(1, round(MATCHED_MATMUL_FLOPS / (2 * m * k * n)))
    flops = matmul_flops(shape=(m, k, n), inner=inner, repeats=repeats)
    return {"shape": [m, k, n], "layer": shape.layer, "flops_per_second": flops}


def torch_throughput(
    *, epochs: int = 2, n_train: int = 50_000, batch_size: int = 32, threads: int = 1
) -> dict[str, Any] | None:
    """A plain in-memory PyTorch loop (same MLP, Adam, pre-normalised tensors, a permutation
    per epoch, the last partial batch kept); ``None`` when torch is not installed.

    One thread by default: at batch 32 a second thread only adds synchronisation, and on a
    busy machine it collapses (2-4k samples/s with 2 threads vs 35-39k with 1, measured with
    other jobs running).
    """
    try:
        import torch
    except ImportError:
        return None
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _torch_loop(torch, epochs, n_train, batch_size)
    finally:
        torch.set_num_threads(previous_threads)


def _torch_loop(torch: Any, epochs: int, n_train: int, batch_size: int) -> dict[str, Any]:
    torch.manual_seed(0)
    train = synthetic_mnist(n_train, 1).train
    x = (torch.from_numpy(flatten(train.images)).float() / 255 - 0.5) / 0.5
    y = torch.from_numpy(train.labels).long()
    model = torch.nn.Sequential(
        torch.nn.Linear(INPUT_WIDTH, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch() -> float:
        order = torch.randperm(n_train)
        total = torch.zeros(())
        for start in range(0, n_train, batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)
        return float(total) / n_train

    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times[1:]))
    return {
        "samples_per_second": n_train / seconds,
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def benchmark(
    *,
    n_train: int | None = None,
    n_val: int | None = None,
    epochs: int = 2,
    matmul_size: int = 1024,
    with_torch: bool = True,
    workload: str = workloads.DEFAULT,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Every figure of ``jaxopt-lab bench train`` for ``workload`` at its batch size (or
    ``batch_size``): one run, five runs, compile time, matmul FLOP/s (a ``matmul_size``³ product
    and the workload's dominant matmul, ``BENCH_SHAPES``), FLOPs per sample, achieved FLOP/s,
    roofline fractions and (if installed) PyTorch. ``n_train`` and ``n_val`` default to the
    sizes of the workload's training and validation splits (50,000 and 10,000 for MNIST).

    The seed comparison's run set (``SEED_TABLE``) and the PyTorch loop exist for ``mnist_mlp``
    only: for another workload their figures are None and ``skipped`` says why. The
    ``mlp_matmul_*`` figures are ``mnist_mlp``'s names of its ``matched_*`` figures (None for
    the others).

    Raises:
      ValueError: ``workload`` is unknown (the message lists the workloads).
    """
    spec = workloads.get(workload)
    batch = spec.batch_size if batch_size is None else batch_size
    n_train = spec.train_size if n_train is None else n_train
    n_val = bench_shape(workload).val_size if n_val is None else n_val
    notebook = workload == "mnist_mlp"
    load_before = os.getloadavg()[0]
    common = {
        "epochs": epochs,
        "n_train": n_train,
        "n_val": n_val,
        "workload": workload,
        "batch_size": batch,
    }
    one = engine_throughput(runs=1, **common)
    five = engine_throughput(runs=5, **common)
    five_seeds = engine_throughput(seeds=5, **common)
    table = engine_throughput(seeds=5, optimizer=SEED_TABLE, **common) if notebook else None
    flops = matmul_flops(matmul_size)  # the project's one definition (bench/roofline.py)
    matched = matched_matmul(workload, batch)
    roof = roofline(flops, workload=workload)
    per_sample = roof["flops_per_sample"]
    matched_roofline = matched["flops_per_second"] / per_sample
    skipped = {}
    if not notebook:
        skipped["seed_table"] = "the seed comparison's run set trains mnist_mlp only"
        if with_torch:
            skipped["torch"] = "the PyTorch loop trains mnist_mlp's MLP only"
    result: dict[str, Any] = {
        "workload": workload,
        "batch_size": batch,
        "one_run_samples_per_second": one["samples_per_second"],
        "one_run_samples_per_cpu_second": one["samples_per_cpu_second"],
        "five_runs_model_samples_per_second": five["samples_per_second"],
        "five_runs_model_samples_per_cpu_second": five["samples_per_cpu_second"],
        "five_seeds_model_samples_per_second": five_seeds["samples_per_second"],
        "seed_table_model_samples_per_second": table["samples_per_second"] if table else None,
        "seed_table_compile_seconds": table["compile_seconds"] if table else None,
        "compile_seconds": one["compile_seconds"],
        "five_runs_compile_seconds": five["compile_seconds"],
        "matmul_flops_per_second": flops,
        "mlp_matmul_flops_per_second": matched["flops_per_second"] if notebook else None,
        "mlp_matmul_roofline_samples_per_second": matched_roofline if notebook else None,
        "flops_per_sample": per_sample,
        "roofline_samples_per_second": roof["roofline_samples_per_second"],
        "one_run_roofline_fraction": one["samples_per_second"]
        / roof["roofline_samples_per_second"],
        "five_runs_roofline_fraction": five["samples_per_second"]
        / roof["roofline_samples_per_second"],
        "one_run_flops_per_second": one["samples_per_second"] * per_sample,
        "five_runs_flops_per_second": five["samples_per_second"] * per_sample,
        "matched_matmul_shape": matched["shape"],
        "matched_matmul_layer": matched["layer"],
        "matched_matmul_flops_per_second": matched["flops_per_second"],
        "matched_roofline_samples_per_second": matched_roofline,
        "one_run_matched_roofline_fraction": one["samples_per_second"] / matched_roofline,
        "five_runs_matched_roofline_fraction": five["samples_per_second"] / matched_roofline,
        "device": str(jax.devices()[0].device_kind),
        # Other processes on the machine slow every figure: the 1-minute load average before
        # the run and after the JAX figures (the number of processes wanting a core).
        "load_average": [load_before, os.getloadavg()[0]],
        "torch": None,
        "skipped": skipped,
    }
    if with_torch and notebook:
        torch_result = torch_throughput(epochs=epochs, n_train=n_train)
        if torch_result is not None:
            torch_result["engine_speedup"] = (
                one["samples_per_second"] / torch_result["samples_per_second"]
            )
        result["torch"] = torch_result
    return result

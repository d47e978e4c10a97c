"""Training throughput of the engine, the machine's matmul roofline, and a PyTorch baseline.

Each measurement compiles first, runs one untimed warm-up epoch, then times whole epochs with
the results blocked on; data loading and printing stay outside the timed region.

    samples/s         = runs · samples per epoch / seconds per epoch  (model-samples/s, runs > 1)
    roofline          = matmul FLOP/s / FLOPs per sample  (model.count_flops_per_sample)
    roofline fraction = samples/s / roofline
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax
import numpy as np

from jaxopt_lab.bench.roofline import matmul_flops
from jaxopt_lab.config import Config, ModelConfig, OptimizerConfig, TrainConfig
from jaxopt_lab.data.splits import MNIST, Split, flatten
from jaxopt_lab.engine.mesh import Placement
from jaxopt_lab.engine.placement import device_splits
from jaxopt_lab.engine.programs import RunSet, compile_run_set, initial_states, run_epoch
from jaxopt_lab.model import INPUT_WIDTH, count_flops_per_sample

IMAGE_SHAPE = (28, 28)


def synthetic_mnist(n_train: int, n_val: int, seed: int = 0) -> MNIST:
    """Random uint8 images and labels (the test split is the validation split): throughput
    does not depend on the pixels."""
    rng = np.random.default_rng(seed)
    train = Split(
        rng.integers(0, 256, (n_train, *IMAGE_SHAPE), np.uint8), rng.integers(0, 10, n_train)
    )
    val = Split(rng.integers(0, 256, (n_val, *IMAGE_SHAPE), np.uint8), rng.integers(0, 10, n_val))
    return MNIST(train=train, val=val, test=val, split_seed=0, source="synthetic")


SEED_TABLE = ("sgd", "momentum", "nesterov", "adagrad", "adam")  # the seed comparison's rows


def engine_throughput(
    *,
    runs: int = 1,
    seeds: int = 1,
    optimizer: str | tuple[str, ...] = "adam",
    epochs: int = 2,
    n_train: int = 50_000,
    n_val: int = 10_000,
    batch_size: int = 32,
    hidden_sizes: tuple[int, ...] = (128,),
    unroll: int = 1,
) -> dict[str, float]:
    """The engine's epoch programs for ``runs`` learning rates × ``seeds`` seeds of one
    optimizer, or of each of several (a group each, as a study's run set trains them).

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
    batch_size: int = 32,
    hidden_sizes: tuple[int, ...] = (128,),
    unroll: int = 1,
    place: Placement | None = None,
) -> RunSet:
    """A compiled run set on ``synthetic_mnist``: each of ``optimizers`` a group of ``runs``
    learning rates (1e-4 … 1e-3, log-spaced) × ``seeds`` seeds, on one device or ``place``."""
    configs = {
        name: Config(
            optimizer=OptimizerConfig(name, np.geomspace(1e-4, 1e-3, runs).tolist()),
            model=ModelConfig(hidden_sizes=list(hidden_sizes)),
            train=TrainConfig(epochs=epochs, batch_size=batch_size, seeds=list(range(seeds))),
        )
        for name in optimizers
    }
    place = Placement() if place is None else place
    splits = device_splits(configs[optimizers[0]], synthetic_mnist(n_train, n_val), place)
    return compile_run_set(configs, splits, place, unroll=unroll)


def roofline(flops_per_second: float, model: ModelConfig | None = None) -> dict[str, float]:
    """FLOPs per training sample and the samples/s a perfect matmul-bound step would reach."""
    flops = count_flops_per_sample(model or ModelConfig())
    return {"flops_per_sample": flops, "roofline_samples_per_second": flops_per_second / flops}


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
    n_train: int = 50_000,
    n_val: int = 10_000,
    epochs: int = 2,
    matmul_size: int = 1024,
    with_torch: bool = True,
) -> dict[str, Any]:
    """Every figure of ``scripts/bench_train.py``: one run, five runs, compile time, matmul
    FLOP/s (a ``matmul_size``³ product and the MLP's own ``[32, 784] @ [784, 128]``), FLOPs per
    sample, roofline fractions and (if installed) PyTorch."""
    load_before = os.getloadavg()[0]
    one = engine_throughput(runs=1, epochs=epochs, n_train=n_train, n_val=n_val)
    five = engine_throughput(runs=5, epochs=epochs, n_train=n_train, n_val=n_val)
    five_seeds = engine_throughput(seeds=5, epochs=epochs, n_train=n_train, n_val=n_val)
    table = engine_throughput(
        seeds=5, optimizer=SEED_TABLE, epochs=epochs, n_train=n_train, n_val=n_val
    )
    flops = matmul_flops(matmul_size)  # the project's one definition (bench/roofline.py)
    mlp_flops = matmul_flops(shape=(32, 784, 128), inner=200, repeats=5)
    roof = roofline(flops)
    result: dict[str, Any] = {
        "one_run_samples_per_second": one["samples_per_second"],
        "one_run_samples_per_cpu_second": one["samples_per_cpu_second"],
        "five_runs_model_samples_per_second": five["samples_per_second"],
        "five_runs_model_samples_per_cpu_second": five["samples_per_cpu_second"],
        "five_seeds_model_samples_per_second": five_seeds["samples_per_second"],
        "seed_table_model_samples_per_second": table["samples_per_second"],
        "seed_table_compile_seconds": table["compile_seconds"],
        "compile_seconds": one["compile_seconds"],
        "five_runs_compile_seconds": five["compile_seconds"],
        "matmul_flops_per_second": flops,
        "mlp_matmul_flops_per_second": mlp_flops,
        "mlp_matmul_roofline_samples_per_second": mlp_flops / roof["flops_per_sample"],
        "flops_per_sample": roof["flops_per_sample"],
        "roofline_samples_per_second": roof["roofline_samples_per_second"],
        "one_run_roofline_fraction": one["samples_per_second"]
        / roof["roofline_samples_per_second"],
        "five_runs_roofline_fraction": five["samples_per_second"]
        / roof["roofline_samples_per_second"],
        "device": str(jax.devices()[0].device_kind),
        # Other processes on the machine slow every figure: the 1-minute load average before
        # the run and after the JAX figures (the number of processes wanting a core).
        "load_average": [load_before, os.getloadavg()[0]],
        "torch": None,
    }
    if with_torch:
        torch_result = torch_throughput(epochs=epochs, n_train=n_train)
        if torch_result is not None:
            torch_result["engine_speedup"] = (
                one["samples_per_second"] / torch_result["samples_per_second"]
            )
        result["torch"] = torch_result
    return result

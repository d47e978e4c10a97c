"""The optimizer-step benchmark: jaxopt_lab against optax and torch.optim, next to the roofline.

``run_step_benchmark`` measures, for each optimizer and each tree of leaf shapes, the library's
step (``step_time.prepare_step``), optionally its ``flat`` fast path, the optax equivalent and
the three torch.optim variants, their steps taking turns in one process, between two
measurements of the memory bandwidth (``roofline.stream_bandwidth``), so that every ratio
compares figures taken under the same machine load. Ratios are speed-ups of jaxopt_lab,
``other ms / jaxopt_lab ms`` (above 1 means jaxopt_lab is faster). The roofline fraction is
the step's GB/s over that of an in-place triad on as many elements, timed in the same turns;
the large-array STREAM figures before and after the run say how much the load moved.

``hyperparameters`` set the library's optimizer (the baselines, built with their own fixed
hyperparameters, are then left out); ``lanes`` > 1 vmaps every JAX step over that many runs
(``step_time.prepare_step``; torch, which has no vmap, is left out).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from typing import Any

import jax

from jaxopt_lab.bench import step_time, torch_step
from jaxopt_lab.bench.roofline import prepare_triad, stream_bandwidth
from jaxopt_lab.bench.step_time import PreparedStep

TABLE_COLUMNS = (
    "optimizer",
    "shape",
    "ms",
    "ms/run",
    "B/param",
    "GB/s",
    "triad GB/s",
    "roof",
    "compile s",
    "flat ms",
    "optax ms",
    "torch loop ms",
    "torch foreach ms",
    "torch fused ms",
)


def machine_info() -> dict[str, Any]:
    """Where the figures come from: device, versions, core count and the load average."""
    info = {
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "cpu_async_dispatch": bool(jax.config.values["jax_cpu_enable_async_dispatch"]),
        "load_average": list(os.getloadavg()),
    }
    if torch_step.torch_available():
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def _speedup(other: dict[str, float] | None, ours: dict[str, float]) -> float | None:
    return None if other is None else other["median_ms"] / ours["median_ms"]


def _interleaved_timings(
    prepared: dict[str, PreparedStep], repeats: int, rounds: int = 3
) -> dict[str, dict[str, float]]:
    """Time ``repeats`` steps of each prepared step in blocks, taking turns over ``rounds``.

    Taking turns spreads a change in the machine's load over every library, so ratios stay
    meaningful on a shared machine; the order rotates each round. Each block starts with one
    untimed step, because the step after another library's runs slower (measured: 12 → 17 ms
    for Adam on 20x500k right after a torch step, whose threads still hold the cores, and a
    cold cache for small trees).
    """
    names = list(prepared)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    rounds = min(rounds, repeats)
    for round_index in range(rounds):
        shift = round_index % len(names)
        block = repeats // rounds + (round_index < repeats % rounds)
        for name in names[shift:] + names[:shift]:
            prepared[name].run()
            seconds[name] += [prepared[name].run() for _ in range(block)]
    return {name: prepared[name].timing(seconds[name]).to_dict() for name in names}


def benchmark_one(
    name: str,
    size: str,
    *,
    repeats: int = 10,
    warmup: int = 2,
    flat: bool = False,
    with_optax: bool = True,
    with_torch: bool = True,
    hyperparameters: dict[str, Any] | None = None,
    lanes: int = 1,
) -> dict[str, Any]:
    """All measurements for the optimizer ``name`` on the tree ``size`` (see ``parse_shapes``),
    built with ``hyperparameters`` and stepped over ``lanes`` runs (module docstring).

    Every implementation is compiled and warmed up first, then their steps are timed taking
    turns (all are in memory at once: about 5 GB for Adam on ``1x100M`` with flat and torch).

    An in-place triad on as many elements as there are parameters takes its turns too: the
    row's ``roofline_fraction`` is the library's GB/s over the triad's, both measured under the
    same load (for trees that fit in the cache, the triad runs in the cache as the step does).

    Returns ``{"optimizer", "shape", "hyperparameters", "lanes", "n_params", "n_leaves",
    "jaxopt_lab", "flat", "optax", "torch": {variant: ...}, "triad", "roofline_fraction",
    "speedup": {...}}``; each timing is a ``StepTiming.to_dict()`` or None where not measured
    or not available.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be >= 1.")
    shapes = step_time.parse_shapes(size)
    # One set of gradients for the JAX steps and one set of parameters for torch's variants.
    _, grads = step_time.make_tree(shapes)
    hyperparameters = dict(hyperparameters or {})
    baselines = not hyperparameters  # built with the benchmark's own hyperparameters
    opts = {"jaxopt_lab": step_time.jaxopt_lab_optimizer(name, hyperparameters=hyperparameters)}
    if flat:
        opts["flat"] = step_time.jaxopt_lab_optimizer(name, "flat", hyperparameters)
    equivalent = step_time.optax_equivalent(name)
    if with_optax and baselines and equivalent is not None:
        opts["optax"] = equivalent
    prepared: dict[str, PreparedStep] = {
        key: step_time.prepare_step(opt, shapes, warmup=warmup, grads=grads, lanes=lanes)
        for key, opt in opts.items()
    }
    per_param = prepared["jaxopt_lab"].bytes_per_param
    with_torch = with_torch and baselines and lanes == 1
    if with_torch and torch_step.torch_available() and name in torch_step.TORCH_EQUIVALENTS:
        params = torch_step.torch_params(shapes)
        for variant in torch_step.VARIANTS:
            torch_prepared = torch_step.prepare_torch_step(
                name, shapes, variant, bytes_per_param=per_param, warmup=warmup, params=params
            )
            if torch_prepared is not None:
                prepared[f"torch_{variant}"] = torch_prepared
    prepared["triad"] = prepare_triad(prepared["jaxopt_lab"].n_params, warmup=warmup)
    timings = _interleaved_timings(prepared, repeats)
    ours = timings["jaxopt_lab"]
    torch_timings = {v: timings.get(f"torch_{v}") for v in torch_step.VARIANTS}
    return {
        "optimizer": name,
        "shape": size,
        "hyperparameters": hyperparameters,
        "lanes": lanes,
        "n_params": ours["n_params"],
        "n_leaves": ours["n_leaves"],
        "jaxopt_lab": ours,
        "flat": timings.get("flat"),
        "optax": timings.get("optax"),
        "torch": torch_timings,
        "triad": timings["triad"],
        "roofline_fraction": ours["gbps"] / timings["triad"]["gbps"],
        "speedup": {
            "flat": _speedup(ours, timings.get("flat")) if "flat" in timings else None,
            "optax": _speedup(timings.get("optax"), ours),
            **{f"torch_{v}": _speedup(t, ours) for v, t in torch_timings.items()},
        },
    }


def run_step_benchmark(
    optimizers: Sequence[str],
    sizes: Sequence[str],
    *,
    repeats: int = 10,
    warmup: int = 2,
    flat: bool = False,
    with_optax: bool = True,
    with_torch: bool = True,
    bandwidth_elements: int = 50_000_000,
    hyperparameters: dict[str, Any] | None = None,
    lanes: int = 1,
) -> dict[str, Any]:
    """The whole benchmark as a JSON-ready dict: machine, bandwidth before/after, results.

    ``speedup.flat`` is the flat path's speed-up over the plain library step.
    """
    if lanes < 1:
        raise ValueError(f"lanes={lanes} must be >= 1.")
    for size in sizes:
        step_time.parse_shapes(size)  # fail on a bad size before minutes of measuring
    for name in optimizers:  # and on a hyperparameter an optimizer does not take
        step_time.jaxopt_lab_optimizer(name, hyperparameters=hyperparameters)
    machine = machine_info()
    before = stream_bandwidth(bandwidth_elements).to_dict()
    results = [
        benchmark_one(
            name,
            size,
            repeats=repeats,
            warmup=warmup,
            flat=flat,
            with_optax=with_optax,
            with_torch=with_torch,
            hyperparameters=hyperparameters,
            lanes=lanes,
        )
        for name in optimizers
        for size in sizes
    ]
    after = stream_bandwidth(bandwidth_elements).to_dict()
    roofline_gbps = max(before["roofline_gbps"], after["roofline_gbps"])
    machine["load_average_after"] = list(os.getloadavg())
    return {
        "machine": machine,
        "bandwidth": {"before": before, "after": after, "roofline_gbps": roofline_gbps},
        "results": results,
    }


def _ms(timing: dict[str, float] | None, ours: dict[str, float] | None = None) -> str:
    if timing is None:
        return "-"
    text = f"{timing['median_ms']:.3g}"
    if ours is not None:
        text += f" ({timing['median_ms'] / ours['median_ms']:.2f}x)"
    return text


def format_table(benchmark: dict[str, Any]) -> str:
    """The results as a Markdown table; ``(n.nnx)`` after a time is its jaxopt_lab speed-up."""
    rows = []
    for r in benchmark["results"]:
        ours = r["jaxopt_lab"]
        rows.append(
            (
                r["optimizer"],
                r["shape"],
                f"{ours['median_ms']:.3g}",
                f"{ours['per_run_ms']:.3g}",
                f"{ours['bytes_per_param']:.0f}",
                f"{ours['gbps']:.1f}",
                f"{r['triad']['gbps']:.1f}",
                f"{r['roofline_fraction']:.0%}",
                f"{ours['compile_s']:.2f}",
                _ms(r["flat"]),
                _ms(r["optax"], ours),
                *(_ms(r["torch"][v], ours) for v in torch_step.VARIANTS),
            )
        )
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)

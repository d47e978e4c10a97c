"""Time one optimizer step against optax and torch.optim, next to the memory-bandwidth roofline.

    jaxopt-lab bench step                                  # all optimizers, all sizes
    jaxopt-lab bench step --optimizers adam --sizes 1x10M 1000x1000 --json runs/step.json
    jaxopt-lab bench step --optimizers adam sgd --flat --plot runs/bench/step.png
    jaxopt-lab bench step --optimizers adam optax.lion my_module:my_adam --sizes 1x10M
    jaxopt-lab bench step --optimizers kron --sizes mnist_mlp --lanes 2 --no-torch \
        --set memory_save_mode=one_diag preconditioner_update_probability=1.0

Optimizers are references as in configs (a built-in, ``optax.lion``, ``module:factory`` from
the working directory or PYTHONPATH); optax and torch baselines exist for the built-ins. --set
gives the optimizers' hyperparameters (YAML values; the learning rate is 1e-3 unless set) and
leaves the baselines out, which keep their own. --lanes N vmaps each step over N runs, as the
engine trains seeds and learning rates in one program (ms/run = ms / N; torch is left out). Sizes
are names from jaxopt_lab.bench.step_time.SHAPES (1x10M 1x100M 20x500k 1000x1000
mnist_mlp) or '<leaves>x<size>'. 1x100M needs about 2 GB of memory per library. The machine's
load changes the figures: compare ratios within one run, and note the load average printed.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax

from jaxopt_lab.bench import step_time, torch_step
from jaxopt_lab.bench.step_benchmark import format_table, run_step_benchmark
from jaxopt_lab.cli.common import (
    add_debug_argument,
    add_set_argument,
    at_least_one,
    command_parser,
    hyperparameters_from_set,
    run_main,
)
from jaxopt_lab.optimizers import OPTIMIZERS, registry


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    parser = command_parser(__doc__, prog)
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=list(OPTIMIZERS),
        metavar="OPTIMIZER",
        help="optimizer references (default: the built-ins)",
    )
    parser.add_argument("--sizes", nargs="+", default=list(step_time.SHAPES))
    parser.add_argument("--repeats", type=int, default=10, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after compiling")
    parser.add_argument("--flat", action="store_true", help="also time the jol.flat fast path")
    add_set_argument(parser, "the optimizers' hyperparameters, e.g. b1=0.95 (repeatable)")
    parser.add_argument(
        "--lanes",
        type=at_least_one("runs"),
        default=1,
        help="runs per step, vmapped as the engine trains them (default 1)",
    )
    parser.add_argument(
        "--sync-dispatch",
        action="store_true",
        help="run each step on the calling thread (jax_cpu_enable_async_dispatch=False)",
    )
    parser.add_argument("--no-optax", action="store_true", help="skip the optax baseline")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch.optim baseline")
    parser.add_argument(
        "--bandwidth-elements",
        type=int,
        default=50_000_000,
        help="array size of the bandwidth measurement (keep it well above the cache)",
    )
    parser.add_argument("--json", type=pathlib.Path, help="write all figures to this JSON file")
    parser.add_argument(
        "--plot", type=pathlib.Path, help="write GB/s against leaf size to this PNG"
    )
    add_debug_argument(parser)
    return parser.parse_args(argv)


def plot(benchmark: dict, path: pathlib.Path) -> None:
    """GB/s against parameters per leaf, per optimizer and library, with the triad's GB/s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def timing(row: dict, library: str) -> dict | None:
        return row["torch"]["fused"] if library == "torch fused" else row[library]

    def leaf_size(row: dict) -> float:
        return row["n_params"] / row["n_leaves"]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(r["optimizer"] for r in benchmark["results"]):
        rows = sorted((r for r in benchmark["results"] if r["optimizer"] == name), key=leaf_size)
        for library in ("jaxopt_lab", "flat", "optax", "torch fused", "triad"):
            points = [
                (leaf_size(r), timing(r, library)["gbps"]) for r in rows if timing(r, library)
            ]
            if points:
                sizes, gbps = zip(*points, strict=True)
                style = {"ls": "--", "color": "k"} if library == "triad" else {}
                ax.plot(sizes, gbps, marker="o", label=f"{name} ({library})", **style)
    ax.set(
        xscale="log", xlabel="parameters per leaf", ylabel="GB/s (bytes a step must move / time)"
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    return run_main(lambda: bench(args), debug=args.debug)


def bench(args: argparse.Namespace) -> int:
    for reference in args.optimizers:  # a bad reference fails before anything is timed
        registry.resolve(reference)
    hyperparameters = hyperparameters_from_set(args.set)
    if args.sync_dispatch:
        # Small trees: saves the hand-over to JAX's dispatch thread (see docs/benchmarks.md).
        jax.config.update("jax_cpu_enable_async_dispatch", False)
    with_torch = not args.no_torch
    if hyperparameters and not (args.no_optax and args.no_torch):
        print("--set: the optax and torch baselines are left out (they keep their own values).")
    if args.lanes > 1 and with_torch:
        print(f"--lanes {args.lanes}: torch.optim has no vmap, left out.")
        with_torch = False
    if with_torch and not torch_step.torch_available():
        print("torch is not installed (pip install -e '.[torch]'): skipping torch.optim.")
        with_torch = False
    benchmark = run_step_benchmark(
        args.optimizers,
        args.sizes,
        repeats=args.repeats,
        warmup=args.warmup,
        flat=args.flat,
        with_optax=not args.no_optax,
        with_torch=with_torch,
        bandwidth_elements=args.bandwidth_elements,
        hyperparameters=hyperparameters,
        lanes=args.lanes,
    )
    machine, bandwidth = benchmark["machine"], benchmark["bandwidth"]
    print(
        f"{machine['device']} ({machine['cpu_count']} cores), jax {machine['jax']}, "
        f"torch {machine.get('torch', '-')}; load average {machine['load_average'][0]:.2f} "
        f"-> {machine['load_average_after'][0]:.2f}"
    )
    for when in ("before", "after"):
        b = bandwidth[when]
        print(
            f"bandwidth {when}: copy {b['copy_gbps']:.1f}, scale {b['scale_gbps']:.1f}, "
            f"triad {b['triad_gbps']:.1f} GB/s"
        )
    print(
        "roof = GB/s / triad GB/s (an in-place triad on as many elements, timed in turns with "
        "the steps); (n.nnx) = jaxopt_lab's speed-up\n"
    )
    print(format_table(benchmark))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(benchmark, indent=1))
        print(f"\nwrote {args.json}")
    if args.plot:
        plot(benchmark, args.plot)
        print(f"wrote {args.plot}")
    return 0

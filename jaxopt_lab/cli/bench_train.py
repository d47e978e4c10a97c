r"""Training throughput of the engine on this machine, with its matmul roofline and PyTorch.

    jaxopt-lab bench train             # full size: 50,000 samples per epoch, ~1 min
    jaxopt-lab bench train --no-torch
    jaxopt-lab bench train --workload mnist_cnn --n-train 5000 --epochs 1  # any workload
    jaxopt-lab bench train --profile   # per-op shares of an epoch of the seed comparison
    XLA_FLAGS=--xla_force_host_platform_device_count=2 \
      jaxopt-lab bench train --layouts adam:4:1 adam:1:4   # 1 device vs every device

Prints, for the workload ``--workload`` (default ``mnist_mlp``, the notebook's MLP) at its
batch size, on synthetic data of its sample shape and split sizes (``--n-train`` sets the
training split): one run's samples/s, five runs' model-samples/s (five
learning rates sharing each batch, and five seeds each with its own), the seed comparison's run
set (five optimizers × five seeds, 25 runs in one program; mnist_mlp only), compile time, the
measured matmul FLOP/s (1024³, and the *matched* matmul: the shape of the workload's dominant
layer, ``BENCH_SHAPES`` in ``jaxopt_lab/bench/train_throughput.py``), the workload's FLOPs per
sample, the FLOP/s achieved, the fraction of each roofline reached, and a plain in-memory
PyTorch loop's samples/s when torch is installed (mnist_mlp only).
``--layouts`` instead times run sets (OPT[,OPT]:SEEDS:LRS) on one device and spread over every
device, as the engine places them by default (``jaxopt_lab/bench/layouts.py``).
"""

from __future__ import annotations

import json
import os
import sys

import jax

from jaxopt_lab import workloads
from jaxopt_lab.bench.epoch_profile import profile_epoch
from jaxopt_lab.bench.layouts import compare_layouts, parse_layout
from jaxopt_lab.bench.train_throughput import SEED_TABLE, benchmark
from jaxopt_lab.cli.common import at_least_one, command_parser


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument(
        "--epochs", type=at_least_one(), default=2, help="timed epochs per measurement (≥ 1)"
    )
    parser.add_argument(
        "--n-train",
        type=at_least_one(),
        help="samples per epoch (≥ 1, at least the batch size; default: as many as the "
        "workload's training split, 50,000 for the MNIST workloads)",
    )
    parser.add_argument(
        "--workload",
        choices=list(workloads.WORKLOADS),
        default=workloads.DEFAULT,
        metavar="NAME",
        help=f"the workload trained: one of {', '.join(workloads.WORKLOADS)} "
        f"(default {workloads.DEFAULT}); its default batch size",
    )
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch loop")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead: where an epoch of the seed comparison's run set spends its time, per "
        "XLA op (jax.profiler)",
    )
    parser.add_argument(
        "--layouts",
        nargs="+",
        metavar="OPT[,OPT]:SEEDS:LRS",
        help="instead: these run sets on one device against every device, epochs interleaved",
    )
    args = parser.parse_args(argv)
    if args.workload != workloads.DEFAULT and (args.profile or args.layouts):
        parser.error(
            f"--workload {args.workload}: --profile and --layouts time {workloads.DEFAULT}'s "
            "run sets only"
        )
    workload = workloads.get(args.workload)
    n_train = workload.train_size if args.n_train is None else args.n_train
    if args.profile:
        return _profile(n_train)
    if args.layouts:
        try:
            layouts = [parse_layout(text) for text in args.layouts]
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return _layouts(layouts, args.epochs, n_train)
    if n_train < workload.batch_size:
        parser.error(
            f"--n-train {n_train} is below {args.workload}'s batch size {workload.batch_size}: "
            f"give at least {workload.batch_size}"
        )
    r = benchmark(
        n_train=n_train,
        epochs=args.epochs,
        with_torch=not args.no_torch,
        workload=args.workload,
    )
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    _print(r, no_torch=args.no_torch)
    return 0


def _print(r: dict, *, no_torch: bool) -> None:
    title = workloads.get(r["workload"]).title
    m, k, n = r["matched_matmul_shape"]
    print(f"workload                    {r['workload']}: {title}, batch {r['batch_size']}")
    print(f"device                      {r['device']} ({os.cpu_count()} cores)")
    print(f"load average before/after   {r['load_average'][0]:.2f} / {r['load_average'][1]:.2f}")
    print(
        f"one run                     {r['one_run_samples_per_second']:>10,.0f} samples/s  "
        f"({r['one_run_samples_per_cpu_second']:,.0f} per CPU-second)"
    )
    print(
        f"five runs (5 lrs, 1 prog.)  {r['five_runs_model_samples_per_second']:>10,.0f} "
        f"model-samples/s  ({r['five_runs_model_samples_per_cpu_second']:,.0f} per CPU-second)"
    )
    print(
        f"five runs (5 seeds)         {r['five_seeds_model_samples_per_second']:>10,.0f} "
        "model-samples/s"
    )
    if r["seed_table_model_samples_per_second"] is None:
        print(f"seed table                  skipped ({r['skipped']['seed_table']})")
    else:
        print(
            f"seed table (5 opt. × 5 seeds) {r['seed_table_model_samples_per_second']:>8,.0f} "
            f"model-samples/s  (one program, compiled in {r['seed_table_compile_seconds']:.1f} s)"
        )
    print(
        f"compile (epoch program)     {r['compile_seconds']:>10.2f} s   (five runs: "
        f"{r['five_runs_compile_seconds']:.2f} s)"
    )
    print(f"matmul 1024³ float32        {r['matmul_flops_per_second'] / 1e9:>10.1f} GFLOP/s")
    print(f"matched matmul              [{m}, {k}]×[{k}, {n}]  ({r['matched_matmul_layer']})")
    print(
        f"matched matmul float32      {r['matched_matmul_flops_per_second'] / 1e9:>10.1f} GFLOP/s"
    )
    print(f"FLOPs per sample            {r['flops_per_sample']:>10,}")
    print(
        f"achieved                    {r['one_run_flops_per_second'] / 1e9:>10.1f} GFLOP/s "
        f"(one run), {r['five_runs_flops_per_second'] / 1e9:.1f} GFLOP/s (five runs)"
    )
    print(f"roofline (1024³ rate)       {r['roofline_samples_per_second']:>10,.0f} samples/s")
    print(
        f"fraction of roofline        {r['one_run_roofline_fraction']:>10.2f} (one run), "
        f"{r['five_runs_roofline_fraction']:.2f} (five runs)"
    )
    print(
        f"roofline (matched rate)     {r['matched_roofline_samples_per_second']:>10,.0f} samples/s"
    )
    print(
        f"fraction of that roofline   {r['one_run_matched_roofline_fraction']:>10.2f} (one run), "
        f"{r['five_runs_matched_roofline_fraction']:.2f} (five runs)"
    )
    torch = r["torch"]
    if no_torch:
        print("pytorch                     skipped (--no-torch)")
    elif "torch" in r["skipped"]:
        print(f"pytorch                     skipped ({r['skipped']['torch']})")
    elif torch is None:
        print("pytorch                     not installed (pip install '.[torch]')")
    else:
        print(
            f"pytorch {torch['version']:<19} {torch['samples_per_second']:>10,.0f} samples/s "
            f"({torch['threads']} thread(s)); engine / pytorch = {torch['engine_speedup']:.1f}x"
        )


def _layouts(layouts: list, epochs: int, n_train: int) -> int:
    devices = jax.devices()
    print(f"devices: {len(devices)} × {devices[0].platform} ({os.cpu_count()} cores)")
    print(f"{'run set':<24} {'runs':>4}  {'1 device':>10}  {'every device':>12}  mesh")
    for r in compare_layouts(layouts, epochs=epochs, n_train=n_train):
        print(
            f"{r['layout']:<24} {r['runs']:>4}  {r['one_device']:>10,.0f}  "
            f"{r['every_device']:>12,.0f}  {r['mesh']}"
        )
    print("(model-samples/s)")
    return 0


def _profile(n_train: int) -> int:
    r = profile_epoch(SEED_TABLE, seeds=5, n_train=n_train)
    print(
        f"seed comparison's run set (5 optimizers × 5 seeds), one epoch: "
        f"{r['epoch_seconds']:.2f} s under the profiler; {r['steps_traced']:,} seed-steps traced"
    )
    shares = ", ".join(f"{name} {share:.0%}" for name, share in r["categories"].items())
    print(f"share of the ops' time: {shares}")
    print(f"{'op':<28} {'shape':<18} {'category':<8} {'share':>6} {'events':>7}  source")
    for op in r["ops"]:
        print(
            f"{op['name']:<28} {op['shape']:<18} {op['category']:<8} {op['share']:>6.1%} "
            f"{op['events']:>7,}  {op['source']}"
        )
    return 0

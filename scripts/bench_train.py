"""Training throughput of the engine on this machine, with its matmul roofline and PyTorch.

    python scripts/bench_train.py            # full size: 50,000 samples per epoch, ~1 min
    python scripts/bench_train.py --no-torch
    python scripts/bench_train.py --profile  # per-op shares of an epoch of the seed comparison
    XLA_FLAGS=--xla_force_host_platform_device_count=2 \
      python scripts/bench_train.py --layouts adam:4:1 adam:1:4   # 1 device vs every device

Prints one run's samples/s, five runs' model-samples/s (five learning rates sharing each batch,
and five seeds each with its own), the seed comparison's run set (five optimizers × five seeds,
25 runs in one program),
compile time, the measured matmul FLOP/s, the MLP's FLOPs per sample, the fraction of the
roofline reached, and a plain in-memory PyTorch loop's samples/s when torch is installed.
``--layouts`` instead times run sets (OPT[,OPT]:SEEDS:LRS) on one device and spread over every
device, as the engine places them by default (``jaxopt_lab/bench/layouts.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax

from jaxopt_lab._cli import at_least_one
from jaxopt_lab.bench.epoch_profile import profile_epoch
from jaxopt_lab.bench.layouts import compare_layouts, parse_layout
from jaxopt_lab.bench.train_throughput import SEED_TABLE, benchmark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--epochs", type=at_least_one(), default=2, help="timed epochs per measurement (≥ 1)"
    )
    parser.add_argument(
        "--n-train", type=at_least_one(), default=50_000, help="samples per epoch (≥ 1)"
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
    if args.profile:
        return _profile(args.n_train)
    if args.layouts:
        try:
            layouts = [parse_layout(text) for text in args.layouts]
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return _layouts(layouts, args.epochs, args.n_train)
    r = benchmark(n_train=args.n_train, epochs=args.epochs, with_torch=not args.no_torch)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
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
    print(
        f"seed table (5 opt. × 5 seeds) {r['seed_table_model_samples_per_second']:>8,.0f} "
        f"model-samples/s  (one program, compiled in {r['seed_table_compile_seconds']:.1f} s)"
    )
    print(
        f"compile (epoch program)     {r['compile_seconds']:>10.2f} s   (five runs: "
        f"{r['five_runs_compile_seconds']:.2f} s)"
    )
    print(f"matmul 1024³ float32        {r['matmul_flops_per_second'] / 1e9:>10.1f} GFLOP/s")
    print(
        f"matmul 32×784×128 (MLP's)   {r['mlp_matmul_flops_per_second'] / 1e9:>10.1f} GFLOP/s "
        f"-> {r['mlp_matmul_roofline_samples_per_second']:,.0f} samples/s at that rate"
    )
    print(f"MLP FLOPs per sample        {r['flops_per_sample']:>10,}")
    print(f"roofline (1024³ rate)       {r['roofline_samples_per_second']:>10,.0f} samples/s")
    print(
        f"fraction of roofline        {r['one_run_roofline_fraction']:>10.2f} (one run), "
        f"{r['five_runs_roofline_fraction']:.2f} (five runs)"
    )
    torch = r["torch"]
    if args.no_torch:
        print("pytorch                     skipped (--no-torch)")
    elif torch is None:
        print("pytorch                     not installed (pip install '.[torch]')")
    else:
        print(
            f"pytorch {torch['version']:<19} {torch['samples_per_second']:>10,.0f} samples/s "
            f"({torch['threads']} thread(s)); engine / pytorch = {torch['engine_speedup']:.1f}x"
        )
    return 0


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


if __name__ == "__main__":
    sys.exit(main())

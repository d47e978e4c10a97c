"""Training throughput of the engine on this machine, with its matmul roofline and PyTorch.

    python scripts/bench_train.py            # full size: 50,000 samples per epoch, ~1 min
    python scripts/bench_train.py --no-torch
    python scripts/bench_train.py --workload mnist_cnn --n-train 5000 --epochs 1  # any workload
    python scripts/bench_train.py --profile  # per-op shares of an epoch of the seed comparison
    XLA_FLAGS=--xla_force_host_platform_device_count=2 \
      python scripts/bench_train.py --layouts adam:4:1 adam:1:4   # 1 device vs every device

The same command as `jaxopt-lab bench train` (the installed console script), which
jaxopt_lab/cli/bench_train.py documents; this file keeps `python scripts/bench_train.py` working.
"""

import sys

from jaxopt_lab.cli.bench_train import main

if __name__ == "__main__":
    sys.exit(main())

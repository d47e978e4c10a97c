"""Train the run set of a config on a workload (MNIST by default) and write its output directory.

    python scripts/train.py --config configs/adam.yaml --out runs/adam
    python scripts/train.py --set workload.name=mnist1d_cnn      # configs/workloads/<name>.yaml
    python scripts/train.py --config configs/adam.yaml --set train.epochs=3 \
        train.seeds=[0,1,2] optimizer.learning_rate=[1e-3,3e-3] --out runs/adam-sweep
    python scripts/train.py --config configs/sgd.yaml --config configs/adam.yaml --out runs/cmp
    python scripts/train.py --config configs/adam.yaml --set optimizer.name=optax.lion \
        "optimizer.hparams={}" optimizer.learning_rate=[1e-4,3e-4] --out runs/lion-sweep

The same command as `jaxopt-lab train` (the installed console script), which
jaxopt_lab/cli/train.py documents; this file keeps `python scripts/train.py` working.
"""

import sys

from jaxopt_lab.cli.train import main

if __name__ == "__main__":
    sys.exit(main())

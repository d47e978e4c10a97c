"""Run a study from its config and write its report.

    python scripts/compare.py --config configs/studies/seed_table.yaml --out runs/seed_table
    python scripts/compare.py --config configs/studies/seed_table.yaml --out /tmp/quick \
        --set train.epochs=2 train.seeds=[0,1] data.train_size=2000 --quiet

The same command as `jaxopt-lab compare` (the installed console script), which
jaxopt_lab/cli/compare.py documents; this file keeps `python scripts/compare.py` working.
"""

import sys

from jaxopt_lab.cli.compare import main

if __name__ == "__main__":
    sys.exit(main())

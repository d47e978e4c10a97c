"""Publish a finished study into results/, put a published one back to train further, or check one.

    python scripts/publish.py runs/seed_table                    # → results/seed_table/
    python scripts/publish.py runs/field --allow-incomplete      # the finished run sets so far
    python scripts/publish.py --restore results/field runs/field # then rerun its compare.py
    python scripts/publish.py --check results/seed_table [...]   # exit 1 unless current
    python scripts/publish.py --seal runs/old_study              # records written before seals

The same command as `jaxopt-lab publish` (the installed console script), which
jaxopt_lab/cli/publish.py documents; this file keeps `python scripts/publish.py` working.
"""

import sys

from jaxopt_lab.cli.publish import main

if __name__ == "__main__":
    sys.exit(main())

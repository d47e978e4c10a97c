"""``python -m jaxopt_lab COMMAND ...``: the ``jaxopt-lab`` command line (jaxopt_lab/cli/)."""

import sys

from jaxopt_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())

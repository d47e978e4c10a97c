"""What the command-line scripts share: one ``--set`` convention, one way to end in an error.

Every script's ``main`` runs its work through ``run_main``: a failure the user can act on ends
in one ``error: …`` line on stderr and exit status 2, an interrupt in the script's own hint and
status 130, never a Python traceback unless ``--debug`` asks for it. It also puts the working
directory on the module path, as ``python -m`` does, so that an optimizer reference
``module:factory`` finds a module there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from jaxopt_lab.optimizers.registry import add_module_folder


def add_set_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--set KEY=VALUE [KEY=VALUE ...]``, repeatable; values are YAML 1.2 (``1e-3`` is a
    number), parsed by the config machinery (``jaxopt_lab._typed_yaml``)."""
    parser.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help=help_text,
    )


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug``: let errors end in their Python traceback."""
    parser.add_argument(
        "--debug", action="store_true", help="show the Python traceback of an error"
    )


def run_main(work: Callable[[], int], *, debug: bool, interrupted: str | None = None) -> int:
    """``work()``'s exit status; an exception becomes an ``error:`` line and status 2, Ctrl-C
    the line ``interrupted; <interrupted>`` and status 130 (with ``debug``, both propagate)."""
    add_module_folder(Path.cwd())
    try:
        return work()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\ninterrupted; {interrupted or 'nothing was completed'}", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        print(f"error: {describe_error(error)}", file=sys.stderr)
        return 2


def describe_error(error: Exception) -> str:
    """One line for the user: the message of the errors jaxopt_lab raises for bad input, the
    file and the operating system's reason for a file error, and for anything else its type
    with a pointer to ``--debug`` (an error jaxopt_lab did not anticipate is a bug to report).
    """
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}"
    ours = type(error).__module__.startswith("jaxopt_lab")
    if ours or isinstance(error, ValueError | OSError | RuntimeError | ImportError):
        return str(error) or type(error).__name__
    return (
        f"{type(error).__name__}: {error} (unexpected; run again with --debug for the "
        "traceback and report it)"
    )

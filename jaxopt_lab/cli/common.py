"""What the command-line commands share: one ``--set`` convention, one way to end in an error.

Every command's ``main`` runs its work through ``run_main``: a failure the user can act on ends
in one ``error: …`` line on stderr and exit status 2, an interrupt (Ctrl-C, SIGTERM) in the
command's own hint and status 130 or 143, never a Python traceback unless ``--debug`` asks for
it. It also puts the working directory on the module path, as ``python -m`` does, so that an
optimizer reference ``module:factory`` finds a module there.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jaxopt_lab._typed_yaml import ConfigError, parse_override


def command_parser(doc: str, prog: str | None) -> argparse.ArgumentParser:
    """The parser of the command whose module docstring is ``doc``: its first line describes the
    command, the rest (its examples, ``jaxopt-lab <command> …``, then notes) ends ``--help``.
    ``prog`` names the command in usage and error lines (``jaxopt-lab train``); ``None``, as
    for ``python scripts/train.py``, names the script file."""
    summary, _, rest = doc.strip().partition("\n")
    return argparse.ArgumentParser(
        prog=prog,
        description=summary,
        epilog="examples:\n" + rest.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


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


def hyperparameters_from_set(items: list[str]) -> dict[str, Any]:
    """An optimizer's hyperparameters from ``--set name=value …`` (values read as YAML 1.2)."""
    hyperparameters = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected name=value, e.g. learning_rate=1e-2")
        key, value = parse_override(item, "the command line")
        if "." in key:
            raise ConfigError(f"--set {item!r}: hyperparameters are plain names, e.g. b1=0.8")
        hyperparameters[key] = value
    return hyperparameters


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug``: let errors end in their Python traceback."""
    parser.add_argument(
        "--debug", action="store_true", help="show the Python traceback of an error"
    )


def at_least_one(unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number ≥ 1 (``unit``, e.g. "steps", names what it counts)."""
    what = f"a whole number of {unit}" if unit else "a whole number"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected {what} ≥ 1, got {text!r}")
        return value

    return parse


def run_main(work: Callable[[], int], *, debug: bool, interrupted: str | None = None) -> int:
    """``work()``'s exit status; an exception becomes an ``error:`` line and status 2, Ctrl-C
    the line ``interrupted; <interrupted>`` and status 130, SIGTERM (``kill``, a job scheduler)
    the same line and status 143 (with ``debug``, all propagate). A full disk adds how to go
    on to its error line: ``free some space, then: <interrupted>``."""
    from jaxopt_lab.optimizers.registry import add_module_folder  # imports JAX: only here

    add_module_folder(Path.cwd())
    terminated: list[int] = []
    try:
        with _sigterm_as_ctrl_c(terminated):
            return work()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\ninterrupted; {interrupted or 'nothing was completed'}", file=sys.stderr)
        return 128 + signal.SIGTERM if terminated else 130
    except Exception as error:
        if debug:
            raise
        line = describe_error(error)
        if isinstance(error, OSError) and error.errno in FULL_DISK and interrupted:
            line += f"; free some space, then: {interrupted}"
        print(f"error: {line}", file=sys.stderr)
        return 2


FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def _sigterm_as_ctrl_c(received: list[int]) -> Iterator[None]:
    """While inside, SIGTERM stops the work as Ctrl-C does: the same hint, nothing lost;
    ``received`` gets the signal when it came."""

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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

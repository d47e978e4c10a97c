"""The command line, ``jaxopt-lab COMMAND [ARG ...]``: one module per command, each with a
``main(argv, prog=...) -> exit status``, and ``main`` here, which picks the command.

    jaxopt-lab --help                     # every command, with an example each
    jaxopt-lab compare --help             # a command's options and examples
    python -m jaxopt_lab compare ...      # the same, without the console script

The installed ``jaxopt-lab`` script and ``python -m jaxopt_lab`` run ``main``; in a checkout,
``python scripts/<name>.py`` runs the same command's ``main`` (scripts/check_optimizer.py for
``check``, scripts/bench_train.py and bench_step.py for ``bench train`` and ``bench step``).
``main`` passes the arguments after the command's name to that command unchanged, so flags,
``error:`` lines and exit statuses are the script's. It imports a command's module only when
the command runs: ``jaxopt-lab --help`` answers without importing JAX. ``common`` holds what
the commands share (``--set``, ``--debug``, one ``error:`` line and exit status 2).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import NamedTuple

from jaxopt_lab import __version__

PROG = "jaxopt-lab"


class Command(NamedTuple):
    module: str  # jaxopt_lab.cli.<module>, imported when the command runs
    summary: str
    example: str


# A name maps to a command or to a group of commands (``bench train``, ``bench step``).
COMMANDS: dict[str, Command | dict[str, Command]] = {
    "train": Command(
        "train",
        "train a config's run set on a workload, write its output directory",
        "jaxopt-lab train --config configs/adam.yaml --out runs/adam",
    ),
    "compare": Command(
        "compare",
        "run a study from its config and write its report",
        "jaxopt-lab compare --config configs/studies/seed_table.yaml --out runs/seed_table",
    ),
    "report": Command(
        "report",
        "rebuild a study's report from its stored metrics (no training)",
        "jaxopt-lab report runs/seed_table",
    ),
    "publish": Command(
        "publish",
        "publish a finished study into results/, restore one, or check one",
        "jaxopt-lab publish runs/seed_table",
    ),
    "findings": Command(
        "findings",
        "rebuild the README's Findings from results/, or check them",
        "jaxopt-lab findings --check",
    ),
    "check": Command(
        "check",
        "check an optimizer against the conformance properties",
        "jaxopt-lab check adam --reference optax.adam --set learning_rate=0.05",
    ),
    "bench": {
        "train": Command(
            "bench_train",
            "training throughput against the matmul roofline and PyTorch",
            "jaxopt-lab bench train --workload mnist_cnn --n-train 5000 --epochs 1",
        ),
        "step": Command(
            "bench_step",
            "time one optimizer step against optax, torch.optim and the roofline",
            "jaxopt-lab bench step --optimizers adam sgd --flat --plot runs/bench/step.png",
        ),
    },
    "data": Command(
        "data",
        "fetch, verify and describe MNIST",
        "jaxopt-lab data fetch",
    ),
}
SUMMARY = "Deep-learning optimizers in JAX: train, run studies, publish, benchmark, check."
GROUPS = {"bench": "Benchmarks of this machine."}


def main(argv: list[str] | None = None) -> int:
    """Run the command named by ``argv[0]`` (default ``sys.argv[1:]``) on the rest; its exit
    status. No command or an unknown one: one ``error:`` line on stderr and status 2. A
    command's ``--help`` (and a usage error) ends in ``SystemExit`` from argparse, as its
    script does. A closed standard output (a pipe whose reader ended) stops it quietly, status
    141."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["--version"]:
            print(f"{PROG} {__version__}")
            return 0
        return _dispatch(argv, PROG, COMMANDS, SUMMARY)
    except BrokenPipeError:
        # The reader went away (`jaxopt-lab --help | head -3`): stop quietly, as Unix tools
        # do, with the status a shell gives a command killed by SIGPIPE. Python's own
        # recipe: the rest of the output (and its flush at exit) goes to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _dispatch(
    argv: list[str], prog: str, commands: dict[str, Command | dict[str, Command]], summary: str
) -> int:
    names = ", ".join(commands)
    if argv[:1] in (["-h"], ["--help"]):
        print(_help(prog, commands, summary))
        return 0
    if not argv:
        print(f"error: {prog} needs a command: {names} ({prog} --help)", file=sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    if name not in commands:
        print(
            f"error: unknown command {name!r}; use one of: {names} ({prog} --help)",
            file=sys.stderr,
        )
        return 2
    command = commands[name]
    if isinstance(command, dict):
        return _dispatch(rest, f"{prog} {name}", command, GROUPS[name])
    module = importlib.import_module(f"jaxopt_lab.cli.{command.module}")
    return module.main(rest, prog=f"{prog} {name}")


def _help(prog: str, commands: dict[str, Command | dict[str, Command]], summary: str) -> str:
    rows = []
    for name, command in commands.items():
        group = command if isinstance(command, dict) else {"": command}
        for sub, c in group.items():
            rows.append((f"{name} {sub}".strip(), c))
    width = max(len(label) for label, _ in rows) + 2
    lines = [
        f"usage: {prog} [-h]{' [--version]' if prog == PROG else ''} COMMAND [ARG ...]",
        "",
        summary,
        "",
        "commands:",
    ]
    for label, c in rows:
        lines += [f"  {label:<{width}}{c.summary}", f"  {'':<{width}}  {c.example}"]
    lines += [
        "",
        "options:",
        "  -h, --help  show this help and exit",
        *(["  --version   print the version and exit"] if prog == PROG else []),
        "",
        f"`{prog} COMMAND --help` shows a command's options and more examples.",
    ]
    if prog == PROG:
        lines += [
            "In a checkout, `python scripts/COMMAND.py ...` is the same command (check:",
            "scripts/check_optimizer.py; bench train, bench step: scripts/bench_train.py,",
            "scripts/bench_step.py).",
        ]
    return "\n".join(lines)

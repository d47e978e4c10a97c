"""Check an optimizer against the conformance properties of jaxopt_lab.testing; print the table.

    jaxopt-lab check adam --set learning_rate=1e-2
    jaxopt-lab check adam --reference optax.adam --set learning_rate=0.05 b1=0.8
    jaxopt-lab check optax.lion --set learning_rate=1e-3 --skip rosenbrock
    jaxopt-lab check adam --reference tests.reference:reference_adam

OPTIMIZER and --reference are registry names (adam), optax names (optax.lion,
optax.contrib.muon) or package.module:attribute (a factory, or for --reference also a NumPy rule
rule(grad, theta, steps, ...)); modules are looked up from the current directory too. --set
gives the factory's hyperparameters, values read as YAML (1e-3 is a number); without --set the
learning rate is the factory's default, else 1e-2. Exits 0 when no property failed, 1 when one
did; errors end in one `error:` line (exit status 2), --debug shows the traceback.
"""

from __future__ import annotations

import argparse

from jaxopt_lab import testing
from jaxopt_lab.cli.common import (
    add_debug_argument,
    add_set_argument,
    at_least_one,
    command_parser,
    hyperparameters_from_set,
    run_main,
)


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument("optimizer", help="adam, optax.lion or package.module:factory")
    parser.add_argument("--reference", help="what to follow step by step (same forms, or a rule)")
    add_set_argument(parser, "hyperparameters, e.g. learning_rate=1e-2 b1=0.8 (repeatable)")
    parser.add_argument(
        "--steps", type=at_least_one("steps"), default=50, help="reference steps (default 50)"
    )
    parser.add_argument("--rtol", type=_tolerance, default=1e-7, help="reference rtol (1e-7)")
    parser.add_argument("--atol", type=_tolerance, default=1e-12, help="reference atol (1e-12)")
    parser.add_argument(
        "--only", nargs="+", metavar="PROPERTY", help=f"run only these: {testing.PROPERTY_NAMES}"
    )
    parser.add_argument("--skip", nargs="+", default=[], metavar="PROPERTY", help="skip these")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return run_main(lambda: _check(args), debug=args.debug)


def _check(args: argparse.Namespace) -> int:
    report = testing.check_optimizer(
        args.optimizer,
        hyperparameters=hyperparameters_from_set(args.set) if args.set else None,
        reference=args.reference,
        steps=args.steps,
        rtol=args.rtol,
        atol=args.atol,
        only=args.only,
        skip=dict.fromkeys(args.skip, "skipped with --skip"),
    )
    print(report)
    return 0 if report.ok else 1


def _tolerance(text: str) -> float:
    """An argparse type: a tolerance, a finite number ≥ 0 (a negative one fails every step)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a finite number ≥ 0 (0 asks for exact agreement), got {text!r}"
        )
    return value

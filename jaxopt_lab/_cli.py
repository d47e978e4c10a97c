"""What the command-line scripts share: one ``--set`` convention."""

from __future__ import annotations

import argparse


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

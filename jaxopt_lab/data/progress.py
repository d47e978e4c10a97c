"""Status lines for slow steps (downloads, conversions), written to stderr unless quiet.

Progress is the one kind of output the library writes itself: a fetch can take a minute and
the caller may be a training script that has not printed anything yet.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def status(message: str, *, quiet: bool) -> None:
    """Write one ``[jaxopt_lab.data]`` line to stderr unless ``quiet``."""
    if not quiet:
        print(f"[jaxopt_lab.data] {message}", file=sys.stderr, flush=True)


def track(items: Iterable[T], *, total: int, desc: str, quiet: bool) -> Iterator[T]:
    """Iterate ``items`` with a tqdm bar on stderr unless ``quiet``."""
    if quiet:
        yield from items
        return
    from tqdm.auto import tqdm  # imported here: only a slow, visible step needs it

    yield from tqdm(items, total=total, desc=desc, unit="img", file=sys.stderr, leave=False)

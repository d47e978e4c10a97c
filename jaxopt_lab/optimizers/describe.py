"""What an optimizer reference resolved to, for the provenance of runs and reports.

A reference (``registry.py``) is a string that can later resolve to other code:
``"optax.lion"`` after an upgrade of optax, ``"my_opts:sgd"`` after an edit of ``my_opts.py``.
``describe`` records what it was when a run trained: the package and its version, or the
module's file and the sha256 of its bytes. The engine writes it into ``summary.json`` and as
comments atop ``config.yaml``; study reports list it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
from pathlib import Path
from typing import Any

from jaxopt_lab.optimizers.registry import Factory, reference_of, resolve


def describe(reference: str | Factory) -> dict[str, Any]:
    """What ``reference`` resolved to, for provenance: the reference, the factory's qualified
    name, and the package with its version (built-ins, optax, installed packages) or the
    module's file and the sha256 of its bytes (your own modules; for a factory defined in a
    notebook, the sha256 of its source)."""
    name = reference_of(reference)
    factory = resolve(name)
    module = getattr(factory, "__module__", None) or "?"
    described: dict[str, Any] = {
        "reference": name,
        "factory": f"{module}.{getattr(factory, '__qualname__', type(factory).__name__)}",
    }
    package = _distribution(module)
    if package is not None:
        return {**described, "package": package[0], "version": package[1]}
    try:
        file = inspect.getsourcefile(factory)
    except TypeError:
        file = None
    if file is not None and Path(file).is_file():
        digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
        return {**described, "file": str(Path(file).resolve()), "sha256": digest}
    try:
        source = inspect.getsource(factory)
    except (OSError, TypeError):
        return {**described, "source": "unavailable (no file, no source)"}
    return {**described, "source_sha256": hashlib.sha256(source.encode()).hexdigest()}


def _distribution(module: str) -> tuple[str, str] | None:
    """The installed distribution (name, version) that provides ``module``, if any."""
    top = module.partition(".")[0]
    if top == "jaxopt_lab":
        from jaxopt_lab import __version__

        return "jaxopt_lab", __version__
    for name in importlib.metadata.packages_distributions().get(top, []):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None

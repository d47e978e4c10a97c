"""Which code produced a result: the text digests of the modules that compute the numbers.

A study records, for every call that trained or computed part of it, a digest of the code of
each file in ``NUMERICS`` (docstrings, comments and formatting do not count) and the versions of
the libraries under them. These digests judge nothing: whether a published study is current is
decided by what the present code computes (``jaxopt_lab.studies.publish.verify``: its replays,
run sets and split). They say which files changed since a study was published, and they let
``publish`` refuse records trained by other code unless an earlier publication vouches for it.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import importlib.metadata
import platform
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
# Relative to the package: a folder stands for every .py file in it.
NUMERICS = (
    "optimizers",
    "model.py",
    "schedules.py",
    "engine/loop.py",
    "engine/step.py",
    "engine/transform.py",
    "engine/programs.py",
    "engine/placement.py",
    "data/splits.py",
    "data/mnist1d.py",
    "losses.py",
    "workloads",
    "studies/landscapes.py",
    "studies/second_order.py",
)
LIBRARIES = ("jax", "jaxlib", "optax", "flax", "numpy")


def code_files() -> dict[str, str]:
    """The digest of each file of ``NUMERICS`` (``code_digest``), by its path relative to the
    package."""
    files = {}
    for entry in NUMERICS:
        path = PACKAGE / entry
        for file in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            files[file.relative_to(PACKAGE).as_posix()] = code_digest(file.read_text("utf-8"))
    return files


def code_digest(source: str) -> str:
    """sha256 of what a Python module computes: its syntax tree without docstrings, so that
    comments, docstrings and formatting leave it unchanged and any change of code does not."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def fingerprint(files: dict[str, str]) -> str:
    """One sha256 for a set of file digests."""
    text = "".join(f"{name} {digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def record() -> dict[str, Any]:
    """This call's provenance: when, the code's fingerprint and files, the library versions."""
    files = code_files()
    return {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "code_sha256": fingerprint(files),
        "files": files,
        "python": platform.python_version(),
        "libraries": {name: library_version(name) for name in LIBRARIES},
    }


def changed_files(recorded: dict[str, str]) -> list[str]:
    """The files of ``NUMERICS`` that differ from ``recorded`` (added, removed or edited)."""
    present = code_files()
    return sorted(
        name for name in set(recorded) | set(present) if recorded.get(name) != present.get(name)
    )


def library_version(name: str) -> str | None:
    """The installed version of ``name`` (None: not installed)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None

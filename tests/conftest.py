"""The suite's one set-up: an XLA compilation cache for the session, shared by its workers.

Many tests compile programs that other tests (or other properties of the same test) compiled
already: each conformance property builds the optimizer anew, each test parametrised over the
registry compiles the same shapes again. JAX's persistent compilation cache turns the second
compile of the same program into a read of the first's executable; tracing still runs, so the
tests that count traces count the same. The cache lives in a fresh temporary directory made by
the first process (pytest, or pytest-xdist's controller, whose workers and subprocesses inherit
it through ``JAX_COMPILATION_CACHE_DIR``) and removed at the end; a directory the caller already
set is used and kept. Measured (2 cores, another study training beside it): Kron's conformance
kit, 101.6 s without, 73.7 s with.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import jax
import pytest

CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get(CACHE_VARIABLE):
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="jaxopt_lab-xla-cache-")
        config.stash[_MADE] = os.environ[CACHE_VARIABLE]
    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_VARIABLE])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config: pytest.Config) -> None:
    made = config.stash.get(_MADE, None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop(CACHE_VARIABLE, None)


_MADE = pytest.StashKey[str]()

"""The converted MNIST cache: one ``.npz`` file with the four canonical arrays and a manifest.

The file (``mnist-v1.npz`` in ``$JAXOPT_LAB_CACHE``, else ``$XDG_CACHE_HOME/jaxopt_lab``, else
``~/.cache/jaxopt_lab``) stores the 60,000 training and 10,000 test images and labels
uncompressed, so it loads in a fraction of a second, plus a ``manifest`` entry: JSON with the
format version, the source the data came from, and the IDX sha256 of each array. Every read
recomputes those sha256s; a truncated, corrupt or tampered file raises ``CacheError`` and is
never used. Writes go to a temporary file in the same folder, renamed over the cache with
``os.replace``, so an interrupted write never leaves a half-written cache behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from jaxopt_lab.data.canonical import (
    FILE_NAMES,
    MNISTArrays,
    digests,
    matches_published,
)
from jaxopt_lab.data.errors import CacheError, DataError

ENV_VAR = "JAXOPT_LAB_CACHE"
CACHE_FILE = "mnist-v1.npz"
FORMAT = "jaxopt_lab/mnist/v1"
_KEYS = {name: name.replace("-", "_") for name in FILE_NAMES}  # npz keys must be identifiers


def default_cache_dir() -> Path:
    """``$JAXOPT_LAB_CACHE``, else ``$XDG_CACHE_HOME/jaxopt_lab``, else ``~/.cache/jaxopt_lab``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxopt_lab"


def cache_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache file inside ``cache_dir`` (default: ``default_cache_dir()``)."""
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    return folder / CACHE_FILE


def _serialize(stream: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    np.savez(stream, **arrays)


def write_cache(
    path: str | os.PathLike[str], arrays: MNISTArrays, *, source: str, sha256: dict[str, str]
) -> None:
    """Write ``arrays`` and their manifest to ``path`` atomically (``write_npz``)."""
    path = Path(path)
    manifest = {
        "format": FORMAT,
        "source": source,
        "sha256": sha256,
        "matches_published": matches_published(sha256),
    }
    entries = {_KEYS[name]: array for name, array in arrays.by_file().items()}
    write_npz(path, entries, manifest)


def write_npz(path: Path, entries: dict[str, np.ndarray], manifest: dict[str, Any]) -> None:
    """``entries`` and the JSON ``manifest`` as one .npz at ``path``, atomically: a temporary
    file in the same folder, synced, then ``os.replace`` (the MNIST and MNIST-1D caches)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {**entries, "manifest": np.array(json.dumps(manifest, sort_keys=True))}
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            _serialize(stream, entries)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp creates 0600; the cache is not secret
        os.replace(temp_name, path)
    except BaseException:  # also KeyboardInterrupt: never leave the temporary file behind
        Path(temp_name).unlink(missing_ok=True)
        raise


def read_cache(path: str | os.PathLike[str]) -> tuple[MNISTArrays, dict[str, Any]]:
    """The arrays and manifest stored at ``path``, after checking every sha256.

    Raises ``FileNotFoundError`` if there is no cache, ``CacheError`` if it cannot be trusted.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no MNIST cache at {path}")
    try:
        with np.load(path, allow_pickle=False) as stored:
            missing = {*_KEYS.values(), "manifest"} - set(stored.files)
            if missing:
                raise CacheError(f"{path}: missing entries {sorted(missing)}")
            manifest = json.loads(str(stored["manifest"]))
            loaded = {name: stored[key] for name, key in _KEYS.items()}
    except CacheError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise CacheError(f"{path}: unreadable ({type(error).__name__}: {error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CacheError(f"{path}: not a {FORMAT} cache")
    try:
        arrays = MNISTArrays(*(loaded[name] for name in FILE_NAMES))
    except DataError as error:
        raise CacheError(f"{path}: {error}") from error
    found = digests(arrays)
    if found != manifest.get("sha256"):
        bad = [name for name in FILE_NAMES if found[name] != manifest.get("sha256", {}).get(name)]
        raise CacheError(f"{path}: sha256 of {', '.join(bad)} disagrees with the manifest")
    return arrays, manifest

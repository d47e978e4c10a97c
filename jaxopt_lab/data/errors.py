"""The data layer's errors: one base class, so callers can catch every data problem at once."""

from __future__ import annotations


class DataError(Exception):
    """Base class of every error raised by ``jaxopt_lab.data``."""


class InvalidDataError(DataError, ValueError):
    """Arrays do not have MNIST's layout (uint8 [N, 28, 28] images, uint8 labels in 0..9)."""


class IDXFormatError(DataError, ValueError):
    """A file is not a well-formed IDX file (wrong magic number, truncated, bad gzip)."""


class ChecksumError(DataError):
    """A file or array does not have the sha256 it must have; nothing from it was used."""


class UnsafePickleError(DataError):
    """A pickle referenced a callable outside the allowed NumPy reconstructors; it was not run."""


class CacheError(DataError):
    """The converted cache is truncated, misses a part, or disagrees with its manifest."""


class SourceError(DataError):
    """One source could not deliver MNIST (unreachable, not prepared, failed a check)."""


class SourceUnavailableError(DataError):
    """No source could deliver MNIST; ``attempts`` lists ``(source, reason)`` for each one tried."""

    def __init__(self, message: str, attempts: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.attempts = attempts

"""One writer per output directory: an exclusive lock held for the whole training call.

``out_dir/.lock`` holds the writer's PID, host and start time, and is locked with ``flock``
(an advisory lock of the operating system, released when the process ends however it ends).
A second ``train`` on the same directory, even with ``--overwrite``, gets
``OutputLockedError`` naming the process that writes it, instead of mixing two runs' config,
metrics and summary. A lock file left by a process that died is stale: its ``flock`` is gone, so
the next writer takes it over (and says so). The lock file is removed when the call ends.

``flock`` locks are local to one machine's file system view; on a network file system shared
by several hosts they may not exclude each other (only process 0 writes, so one multi-host run
takes one lock).
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from types import TracebackType

LOCK_FILE = ".lock"


class OutputLockedError(RuntimeError):
    """Another process is writing the output directory."""


class OutputLock:
    """``with OutputLock(out_dir): ...``: hold ``out_dir``'s lock, or raise ``OutputLockedError``.

    Creates ``out_dir`` if needed.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        out_dir = self.path.parent
        if out_dir.exists() and not out_dir.is_dir():
            raise NotADirectoryError(
                errno.ENOTDIR, "exists and is not a directory; choose another --out", str(out_dir)
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = self._lock()
        stale = _read_holder(fd)
        if stale:
            print(
                f"note: {self.path} was left by a run that is no longer running "
                f"({_describe(stale)}); taking it over",
                file=sys.stderr,
            )
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return self

    def _lock(self) -> int:
        """A descriptor of the lock file, ``flock``-ed; the file may have been replaced between
        ``open`` and ``flock`` by a writer that finished, so the lock counts only if the path
        still names the locked file."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputLockedError(
                    f"{self.path.parent} is being written by another run ({_describe(holder)}); "
                    "wait for it to finish, stop it, or choose another --out"
                ) from None
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked: no one else holds this file
        os.close(self._fd)  # releases the flock
        self._fd = None


def _read_holder(fd: int) -> dict[str, object]:
    data = os.pread(fd, 4096, 0)
    try:
        holder = json.loads(data)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return "process unknown"
    return (
        f"PID {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}; "
        f"lock file {LOCK_FILE}"
    )

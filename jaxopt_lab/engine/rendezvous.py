"""The meeting of the processes before ``jax.distributed`` starts, with errors that name who is
missing.

A ``jax.distributed`` start-up that times out aborts the whole process with a C++ check failure
(on process 0 as on the others), which Python cannot catch. So the processes first meet over a
plain TCP connection at the coordinator's address, each waiting at most the configured timeout
and reporting progress, and only then start ``jax.distributed`` there (``distributed.py``).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterable
from typing import Any

# Where a process reads its settings when the config leaves them out (``distributed.py``).
ENV_ADDRESS = "JAX_COORDINATOR_ADDRESS"
ENV_PROCESSES = "JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "JAX_PROCESS_ID"


class CoordinatorUnreachableError(ConnectionError):
    """The processes did not meet at the coordinator's address in time. Raised as such by a
    process other than 0: nothing answered there; see also ``PeersMissingError``."""


class PeersMissingError(CoordinatorUnreachableError):
    """Not every process joined at the coordinator's address in time; process 0's message
    names the missing ones. A ``CoordinatorUnreachableError``, so that code catching a failed
    start-up catches both."""


# The meeting before jax.distributed. Process 0 listens on the coordinator's port (on every
# interface, as jax.distributed does); every other process connects and sends one JSON line,
# {"jaxopt_lab": "join", "process_id": i, "num_processes": n}. Once all n − 1 have, process 0
# answers each {"go": true}, closes the port and starts jax.distributed on it (whose clients
# retry until it listens). A meeting that fails answers {"error": kind, "message": text}
# instead, so every process that joined raises the error process 0 raises.

REPORT_EVERY = 10.0
"""Seconds between the progress lines a waiting process writes to stderr."""


def rendezvous(address: str, count: int, index: int, timeout: float) -> None:
    """Return once all ``count`` processes have joined at ``address``: process 0 hosts the
    meeting, the others join it. Each waits at most ``timeout`` seconds, writing a progress
    line to stderr every ``REPORT_EVERY`` seconds.

    Raises:
      CoordinatorUnreachableError: (process ≠ 0) nothing answered at the address in time.
      PeersMissingError: not every process joined in time; process 0's message names them.
      ValueError: the processes disagree on their count, two share an id, or (process 0) the
        port is taken.
    """
    if index == 0:
        _gather(address, count, timeout)
    else:
        _join(address, count, index, timeout)


class _Wait:
    """A bounded wait that says on stderr, every ``REPORT_EVERY`` seconds, how it stands."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.start = time.monotonic()
        self.next_report = self.start + REPORT_EVERY

    def over(self) -> bool:
        return time.monotonic() >= self.start + self.timeout

    def step(self) -> float:
        """How long one blocking call may last: a second, to the deadline or report at most."""
        end = min(self.start + self.timeout, self.next_report, time.monotonic() + 1.0)
        return max(0.01, end - time.monotonic())

    def report(self, text: str, detail: str = "") -> None:
        now = time.monotonic()
        if now >= self.next_report:
            self.next_report = now + REPORT_EVERY
            spent = f"{now - self.start:.0f} s of {self.timeout:g} s"
            print(
                f"[jaxopt_lab.distributed] {text} ({'; '.join(filter(None, [spent, detail]))})",
                file=sys.stderr,
                flush=True,
            )


def _gather(address: str, count: int, timeout: float) -> None:
    """Process 0: wait for processes 1 … count − 1 to join, then let them go."""
    wait = _Wait(timeout)
    peers: dict[int, tuple[socket.socket, str]] = {}
    try:
        with _listen(address) as server:
            while True:
                for gone in [i for i, (conn, _) in peers.items() if _closed(conn)]:
                    peers.pop(gone)[0].close()
                missing = [i for i in range(1, count) if i not in peers]
                if not missing:
                    break
                if wait.over():
                    message = _missing_message(address, count, timeout, sorted(peers), missing)
                    _answer(peers.values(), {"error": "PeersMissingError", "message": message})
                    raise PeersMissingError(message)
                wait.report(
                    f"waiting for {len(missing)} of {count} processes to join at {address}",
                    f"missing: {_ids(missing)}",
                )
                server.settimeout(wait.step())
                try:
                    conn, peer_address = server.accept()
                except TimeoutError:
                    continue
                host = peer_address[0].removeprefix("::ffff:")
                hello = _receive(conn, _Wait(2.0))
                index = hello and hello.get("process_id")
                if not (hello and hello.get("jaxopt_lab") == "join" and isinstance(index, int)):
                    conn.close()  # not a process of ours (a port scan, say): ignore it
                    continue
                problem = _conflict(count, index, hello.get("num_processes"), host, peers)
                if problem is not None:
                    _answer(
                        [*peers.values(), (conn, host)], {"error": "ValueError", "message": problem}
                    )
                    conn.close()
                    raise ValueError(problem)
                peers[index] = (conn, host)
        _answer(peers.values(), {"go": True})
    finally:
        for conn, _ in peers.values():
            conn.close()


def _conflict(
    count: int, index: int, their_count: Any, host: str, peers: dict[int, tuple[socket.socket, str]]
) -> str | None:
    """Why process ``index`` (at ``host``) cannot join process 0's ``count`` processes."""
    if their_count != count:
        return (
            f"process {index} (at {host}) was started for {their_count} processes, process 0 "
            f"for {count}; start every process with the same {ENV_PROCESSES} "
            "(distributed.num_processes)"
        )
    if index in peers:
        return (
            f"two processes were started with process id {index} (at {peers[index][1]} and "
            f"{host}); give each its own {ENV_PROCESS_ID} (distributed.process_id) in "
            f"1 … {count - 1}"
        )
    if not 0 < index < count:
        return f"process id {index} (at {host}) must be in 1 … {count - 1}"
    return None


def _join(address: str, count: int, index: int, timeout: float) -> None:
    """Process ``index`` ≠ 0: join process 0's meeting and wait until it lets us go."""
    host, port = _split_address(address)
    who = f"process {index} of {count}"
    wait = _Wait(timeout)
    hello = json.dumps({"jaxopt_lab": "join", "process_id": index, "num_processes": count}).encode()
    error: OSError | None = None
    while not wait.over():
        wait.report(f"{who} waiting for process 0 at {address}")
        try:
            with socket.create_connection((host, port), timeout=1.0) as conn:
                conn.sendall(hello + b"\n")
                error = None
                waiting = f"{who} joined at {address}, waiting for the other processes"
                reply = _receive(conn, wait, waiting)
        except OSError as failure:
            error = failure
            reply = None
        if reply is None:  # nothing answered, or process 0 went away: try again
            time.sleep(min(0.2, wait.step()))
            continue
        if "error" in reply:
            kind = PeersMissingError if reply["error"] == "PeersMissingError" else ValueError
            raise kind(reply.get("message"))
        return
    if error is not None:
        raise CoordinatorUnreachableError(
            f"no JAX coordinator answered at {address} within {timeout:g} s ({who}; last "
            f"error: {error}); start process 0 first, which hosts the coordinator at that "
            "address, check the host, port and firewall, or raise "
            "distributed.initialization_timeout"
        )
    raise PeersMissingError(
        f"process 0 answered at {address} but not all {count} processes joined within "
        f"{timeout:g} s ({who}; process 0 says which are missing); start them with the same "
        f"{ENV_ADDRESS}={address} and {ENV_PROCESSES}={count}, or raise "
        "distributed.initialization_timeout"
    )


def _missing_message(
    address: str, count: int, timeout: float, joined: list[int], missing: list[int]
) -> str:
    if len(missing) == 1:
        start = f"start process {missing[0]} with {ENV_PROCESS_ID}={missing[0]}"
    else:
        start = f"start processes {_ids(missing)}, each with its own {ENV_PROCESS_ID}"
    return (
        f"only {count - len(missing)} of {count} processes joined at {address} within "
        f"{timeout:g} s (joined: {_ids([0, *joined])}; missing: {_ids(missing)}); {start}, "
        f"{ENV_PROCESSES}={count} and {ENV_ADDRESS}={address} (or the distributed.* settings), "
        f"lower distributed.num_processes ({ENV_PROCESSES}) to the processes you start, or "
        "raise distributed.initialization_timeout"
    )


def _ids(ids: list[int]) -> str:
    """``[0, 1, 2, 3, 5, 6]`` → ``0 … 3, 5, 6``: a long list of ids stays one line."""
    runs: list[list[int]] = []
    for i in ids:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{r[0]} … {r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _listen(address: str) -> socket.socket:
    port = _split_address(address)[1]
    try:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
        return socket.create_server(("", port))
    except OSError as error:
        raise ValueError(
            f"process 0 cannot listen at {address} for the other processes ({error}); choose "
            f"a free port in {ENV_ADDRESS} (distributed.coordinator_address)"
        ) from None


def _receive(conn: socket.socket, wait: _Wait, waiting: str = "") -> dict | None:
    """One JSON object line from ``conn``; None at end of stream, on junk or when ``wait`` is
    over. While it waits, ``waiting`` is the progress line."""
    data = b""
    while b"\n" not in data and len(data) < 65536 and not wait.over():
        if waiting:
            wait.report(waiting)
        conn.settimeout(wait.step())
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            return None
        data += chunk
    try:
        message = json.loads(data.partition(b"\n")[0])
    except ValueError:
        return None
    return message if isinstance(message, dict) and b"\n" in data else None


def _answer(peers: Iterable[tuple[socket.socket, str]], message: dict) -> None:
    line = json.dumps(message).encode() + b"\n"
    for conn, _ in peers:
        try:
            conn.sendall(line)
        except OSError:
            pass  # it went away; it reports its own timeout


def _closed(conn: socket.socket) -> bool:
    """Whether the other end of ``conn`` went away (a process that joined, then died)."""
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.setblocking(True)


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"coordinator address {address!r} must be host:port, e.g. 10.0.0.1:1234")
    return host.strip("[]"), int(port)

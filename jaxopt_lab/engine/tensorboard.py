"""TensorBoard event files of metric records, encoded by hand: no TensorFlow, no tensorboard.

An output directory holds one TensorBoard *run* per training run, so that
``tensorboard --logdir runs/`` lists every run of every study and its run selector filters by
optimizer, learning rate and seed::

    <out>/tensorboard/adam/lr=0.001/seed=0/events.out.tfevents.<time>.<host>

Each epoch is one event at step = epoch, with a scalar per metric the record holds
(``train_loss`` → ``train/loss``, ``val_accuracy`` → ``val/accuracy``, ``test_*`` when
evaluated); a metric that is ``null`` (a diverged run) is not written. Wall times are the
file's start plus the epochs' training seconds, so TensorBoard's *relative* axis reads training
time, the same over a resume.

An event file is a function of the records (and its start time, which its first event holds),
so ``outputs.write_tensorboard`` can compare it byte for byte with the file on disk: it appends
what is new, and writes a new file in place of one that is not a prefix of what the records say
(a resume that retrains epochs past its checkpoint, a torn write). TensorBoard reads appended
data and new files while it runs, not a file replaced under the same name.

The format: TFRecord framing (little-endian uint64 length, masked CRC-32C of the length, the
data, masked CRC-32C of the data) around ``tensorflow.Event`` protobufs: ``wall_time`` (double,
field 1), ``step`` (int64, 2), ``file_version`` (string, 3; the first event's
``brain.Event:2``), ``summary`` (5) → ``Summary.value`` (repeated, 1) → ``Value`` with ``tag``
(string, 1) and ``simple_value`` (float, 2).
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DIRECTORY = "tensorboard"
FILE_PREFIX = "events.out.tfevents."
FILE_VERSION = "brain.Event:2"
SPLITS = ("train", "val", "test")
_MASK_DELTA = 0xA282EAD8
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli, reflected
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``; ``crc32c(b"123456789") == 0xE3069283``."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The CRC as TFRecord stores it: rotated right by 15 bits, plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """``data`` framed as one TFRecord."""
    length = struct.pack("<Q", len(data))
    return b"".join(
        (
            length,
            struct.pack("<I", masked_crc32c(length)),
            data,
            struct.pack("<I", masked_crc32c(data)),
        )
    )


def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # negative int64s as protobuf writes them: ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): a string or a message."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def event(
    wall_time: float,
    step: int = 0,
    *,
    file_version: str | None = None,
    start: bool = False,
    scalars: Mapping[str, float] | None = None,
) -> bytes:
    """A serialized ``Event``: its wall time, step, and a file version, a session start or
    scalar values."""
    out = bytearray(b"\x09" + struct.pack("<d", wall_time))  # field 1, 64-bit
    if step:
        out += b"\x10" + _varint(step)  # field 2, varint
    if file_version is not None:
        out += _field(3, file_version.encode())
    if start:
        out += _field(7, b"\x08\x01")  # session_log: SessionLog.status = START
    if scalars:
        values = b"".join(
            _field(1, _field(1, tag.encode()) + b"\x15" + struct.pack("<f", value))
            for tag, value in scalars.items()
        )  # Value.simple_value: field 2, 32-bit
        out += _field(5, values)
    return bytes(out)


def tag(name: str) -> str | None:
    """``train_loss`` → ``train/loss``; None for a record key that is not a metric."""
    split, _, metric = name.partition("_")
    return f"{split}/{metric}" if split in SPLITS and metric else None


def scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """The tagged metrics of one record, without the ``null`` ones."""
    out = {}
    for name, value in record.items():
        name_tag = tag(name)
        if name_tag is not None and isinstance(value, int | float) and not isinstance(value, bool):
            out[name_tag] = float(value)
    return out


def event_file(records: Iterable[Mapping[str, Any]], start: float) -> bytes:
    """The event file of one run's records: the version event and a session start at
    ``start``, then one event per epoch (in epoch order) at ``start`` plus the seconds of the
    epochs so far. TensorBoard takes a second session start at step 0 for a restart that
    replaces every step it has read: how a new file replaces an emptied one."""
    out = [
        tfrecord(event(start, file_version=FILE_VERSION)),
        tfrecord(event(start, start=True)),
    ]
    elapsed = 0.0
    for record in sorted(records, key=lambda r: r["epoch"]):
        elapsed += record.get("seconds") or 0.0
        values = tuple(scalars(record).items())
        if values:
            out.append(_epoch_record(start + elapsed, record["epoch"], values))
    return b"".join(out)


@functools.lru_cache(maxsize=1 << 14)
def _epoch_record(wall_time: float, step: int, values: tuple[tuple[str, float], ...]) -> bytes:
    """One epoch's framed event; cached, as every epoch writes each run's history again."""
    return tfrecord(event(wall_time, step, scalars=dict(values)))


def start_time(data: bytes) -> float | None:
    """The wall time of an event file's first event (its start), or None when ``data`` does not
    begin with a complete first record written as ``event`` writes it."""
    if len(data) < 12:
        return None
    (length,) = struct.unpack_from("<Q", data)
    if len(data) < 16 + length or length < 9 or data[12] != 0x09:
        return None
    if struct.unpack_from("<I", data, 12 + length)[0] != masked_crc32c(data[12 : 12 + length]):
        return None
    return struct.unpack_from("<d", data, 13)[0]


def run_path(run: str) -> tuple[str, ...]:
    """The directories of a run id under ``tensorboard/``: ``adam/lr=0.001/seed=0`` →
    ``("adam", "lr=0.001", "seed=0")``, other characters than letters, digits and ``._=+-``
    replaced by ``_`` (a label may hold any character but ``/``)."""
    parts = tuple(_UNSAFE.sub("_", part) for part in run.split("/"))
    return tuple("_" if part in ("", ".", "..") else part for part in parts)


def file_name(stamp: int, host: str) -> str:
    """``events.out.tfevents.<stamp>.<host>``, as TensorFlow's writers name theirs."""
    return f"{FILE_PREFIX}{stamp}.{_UNSAFE.sub('_', host) or 'localhost'}"


def file_stamp(name: str) -> int:
    """The time stamp of an event file's name (0 when it has none)."""
    stamp = name[len(FILE_PREFIX) :].split(".", 1)[0]
    return int(stamp) if stamp.isdigit() else 0


def by_run(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The records grouped by run id, in order of first appearance."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        out.setdefault(record["run"], []).append(record)
    return out

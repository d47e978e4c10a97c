"""Where an epoch of the engine spends its time: XLA:CPU's per-op events from a profiler trace.

One epoch of a run set's compiled program (after a warm-up epoch) runs under
``jax.profiler.trace``; the trace's complete events are summed per HLO instruction and matched
with the compiled HLO text for the instruction's shape and source operation::

    share(op) = Σ duration of op's events / Σ duration of every op's events

and the ops are grouped into matmuls (``dot`` instructions and fusions of a ``dot_general``),
copies (``copy`` instructions: buffers XLA duplicates) and the rest (element-wise fusions: the
optimizers' updates, the loss, the gather and normalisation of the batch, bookkeeping). The
trace buffer may keep only the first part of a long epoch; shares are computed over what it
kept (``steps_traced`` counts the events of the most frequent op).
"""

from __future__ import annotations

import collections
import gzip
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import jax

from jaxopt_lab.bench.train_throughput import synthetic_run_set
from jaxopt_lab.engine.programs import initial_states, run_epoch

# `%name = f32[32,128]{1,0} opcode(...)... op_name="…"`: one HLO instruction.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%([\w.-]+) = (\S+?)(?:\{[\d,]*\})? ([\w-]+)\(")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
CATEGORIES = ("matmul", "copy", "other")


def profile_epoch(
    optimizers: tuple[str, ...],
    *,
    seeds: int = 1,
    n_train: int = 50_000,
    n_val: int = 10_000,
    top: int = 12,
) -> dict[str, Any]:
    """The per-op profile of one epoch of ``optimizers`` (a group of one run each) × ``seeds``
    seeds on synthetic data, on one device: ``categories`` (category → share), ``ops`` (the
    ``top`` ops: name, shape, category, share, events, source operation), ``epoch_seconds``
    and ``steps_traced``."""
    run_set = synthetic_run_set(optimizers, seeds=seeds, n_train=n_train, n_val=n_val)
    hlo = _instructions(run_set.programs.epoch.as_text())
    states = initial_states(run_set)
    states, metrics = run_epoch(run_set, states, 1)
    jax.block_until_ready(metrics)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            states, metrics = run_epoch(run_set, states, 2)
            jax.block_until_ready(metrics)
        seconds = time.perf_counter() - start
        trace = next(Path(folder).rglob("*.trace.json.gz"))
        events = json.loads(gzip.decompress(trace.read_bytes()))
    events = events["traceEvents"] if isinstance(events, dict) else events
    durations: collections.Counter[str] = collections.Counter()
    counts: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and event.get("name") in hlo:
            durations[event["name"]] += event.get("dur", 0)
            counts[event["name"]] += 1
    total = sum(durations.values()) or 1
    categories = dict.fromkeys(CATEGORIES, 0.0)
    for name, duration in durations.items():
        categories[hlo[name]["category"]] += duration / total
    ops = [
        {"name": name, **hlo[name], "share": duration / total, "events": counts[name]}
        for name, duration in durations.most_common(top)
    ]
    return {
        "categories": categories,
        "ops": ops,
        "epoch_seconds": seconds,
        "steps_traced": max(counts.values(), default=0),
    }


def _instructions(text: str) -> dict[str, dict[str, str]]:
    """Each instruction of an HLO module's text: its shape, category and source operation."""
    found = {}
    for line in text.splitlines():
        match = _INSTRUCTION.match(line)
        if match is None:
            continue
        name, shape, opcode = match.groups()
        source = _OP_NAME.search(line)
        operation = source.group(1).rsplit("/", 2)[-2:] if source else []
        if opcode == "dot" or (opcode == "fusion" and operation[-1:] == ["dot_general"]):
            category = "matmul"
        elif opcode == "copy":
            category = "copy"
        else:
            category = "other"
        found[name] = {"shape": shape, "category": category, "source": "/".join(operation)}
    return found

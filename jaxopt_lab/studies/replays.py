"""Replays: small re-computations of a study's own work, its behavioural fingerprint.

A published study (``jaxopt_lab.studies.publish``) stores, beside its records, what the code
that published it computed on a few small replays of the study's own paths. The study is
current while the present code computes the same numbers on them, within ``TOLERANCE`` (float32
rounding across CPUs, measured: docs/studies.md), whatever its source text looks like. A
rewording, a moved or renamed function, a new optimizer no study uses: no replay moves. Adam's
default ε, the model's initialisation, the loss, a schedule: the replays of exactly the studies
that use them move.

- A study trained by the engine replays every distinct optimizer program of its run sets (the
  optimizer, its hyperparameters' names and kinds, schedule, clipping, model, train and data
  sections; the learning rates and float hyperparameter values are data of one program, so
  one of them stands for the rest) with the real engine: ``REPLAY_EPOCHS`` epochs on the first
  ``REPLAY_IMAGES`` training images (so the masked last batch of 20 is hit), the first
  ``REPLAY_SEEDS`` seeds, every learning rate of the config; plus its first program at
  ``DIVERGING_RATE``, which must diverge (the engine's freezing and marking of a run). The
  programs that share their model, train and data sections train as one run set (one compiled
  program, as the study trained them), which is most of a replay's cost.
- A kind with its own loop (landscapes, second_order) says what its replays are.

A replay is identified by what it computes (``Replay.what``, JSON): the same replay in two
studies is computed once per process (``Replayer``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jaxopt_lab.config import Config, DataConfig, config_from_dict, config_to_dict
from jaxopt_lab.data import MNIST
from jaxopt_lab.workloads import get as get_workload

REPLAY_EPOCHS = 2
REPLAY_IMAGES = 500  # 15 batches of 32 and a masked last batch of 20
REPLAY_SEEDS = 2
DIVERGING_RATE = 1e30  # weights reach float32 overflow within a step or two


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """An accuracy (a key naming ``accuracy``) may move by ``accuracy_atol`` (a few predictions
    flipping); any other number by ``atol`` + ``rtol`` · |published|. Anything else (None for a
    diverged run, a flag, a count) must be equal."""

    rtol: float
    atol: float
    accuracy_atol: float = 0.0

    def close(self, path: str, published: float, present: float) -> bool:
        moved = abs(present - published)
        if "accuracy" in path.rsplit(".", 1)[-1]:
            return moved <= self.accuracy_atol
        return moved <= self.atol + self.rtol * abs(published)

    def __str__(self) -> str:
        return (
            f"{self.atol:g} + {self.rtol:g}·|x|, accuracies {self.accuracy_atol:g}"
            if self.accuracy_atol
            else f"{self.atol:g} + {self.rtol:g}·|x|"
        )


# What float32 rounding across CPUs moves, with room (measured: docs/studies.md,
# "Reproducibility"): under another instruction set the replays' losses and landscape values
# moved by at most 8e-6 of their value, and one validation prediction of 10,000 flipped (1e-4).
TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6, accuracy_atol=2e-4)


@dataclasses.dataclass(frozen=True)
class Replay:
    """One small computation: ``what`` it computes (JSON, its identity) and how."""

    what: dict[str, Any]
    compute: Callable[[Replayer], dict[str, Any]]

    @property
    def key(self) -> str:
        text = json.dumps(self.what, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return str(self.what.get("label", self.key))


@dataclasses.dataclass(frozen=True)
class Difference:
    """Where a replay's present result differs from the published one."""

    path: str
    published: Any
    present: Any

    def __str__(self) -> str:
        if _is_number(self.published) and _is_number(self.present):
            by = self.present - self.published
            return f"{self.path}: {self.published!r} → {self.present!r} (by {by:+.3g})"
        return f"{self.path}: {self.published!r} → {self.present!r}"


class Replayer:
    """Computes replays, each once per process, and loads each data split once."""

    def __init__(self, data: MNIST | None = None) -> None:
        self._data = data  # tiny data in tests: every replay uses it
        self._splits: dict[tuple[Any, ...], MNIST] = {}
        self._results: dict[str, dict[str, Any]] = {}

    def result(self, replay: Replay) -> dict[str, Any]:
        if replay.key not in self._results:
            self._results[replay.key] = _plain(replay.compute(self))
        return self._results[replay.key]

    def data(self, data: DataConfig, workload: str = "mnist_mlp") -> MNIST:
        """The splits ``workload`` trains on as ``data`` asks (loaded once per process)."""
        if self._data is not None:
            return self._data
        key = (workload, data.source, data.cache_dir, data.split_seed)
        if key not in self._splits:
            self._splits[key] = get_workload(workload).load(data)
        return self._splits[key]


def differences(
    published: Any, present: Any, tolerance: Tolerance, path: str = ""
) -> list[Difference]:
    """Every place where ``present`` is not ``published`` within ``tolerance``."""
    if isinstance(published, Mapping) and isinstance(present, Mapping):
        out = []
        for key in sorted(set(published) | set(present), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in published or key not in present:
                out.append(Difference(where, published.get(key), present.get(key)))
            else:
                out += differences(published[key], present[key], tolerance, where)
        return out
    if isinstance(published, list) and isinstance(present, list):
        if len(published) != len(present):
            return [Difference(f"{path} (length)", len(published), len(present))]
        out = []
        for i, (a, b) in enumerate(zip(published, present, strict=True)):
            out += differences(a, b, tolerance, f"{path}[{i}]")
        return out
    if _is_number(published) and _is_number(present) and not isinstance(published, int):
        if math.isfinite(published) and tolerance.close(path, published, present):
            return []
        return [Difference(path, published, present)]
    return [] if published == present else [Difference(path, published, present)]


# --------------------------------------------------------------------------- engine studies


def engine_replays(configs: Iterable[Config]) -> dict[str, Replay]:
    """The replays of run sets trained by the engine, by key: one per distinct program of
    ``configs`` and the first program driven to divergence, trained together (one compiled
    program, as a run set) when they share their model, train and data sections."""
    programs: dict[str, Config] = {}
    for cfg in configs:
        programs.setdefault(program_key(cfg), cfg)
    if not programs:
        return {}
    first = next(iter(programs.values()))
    members = [shrunk(cfg) for cfg in programs.values()]
    members.append(shrunk(first, learning_rate=DIVERGING_RATE))
    groups: dict[str, dict[str, Config]] = {}
    for i, cfg in enumerate(members):
        doc = config_to_dict(cfg)
        shared = json.dumps([doc.get(k) for k in ("workload", "model", "train", "data")])
        diverging = i == len(members) - 1
        groups.setdefault(shared, {})[_member_label(cfg, diverging)] = cfg
    replays = [_engine_replay(group) for group in groups.values()]
    return {r.key: r for r in replays}


def program_key(cfg: Config) -> str:
    """What makes two configs one compiled program: everything but the learning rates, the
    float hyperparameter values, the seeds and the epochs."""
    doc = config_to_dict(cfg)
    optimizer = doc["optimizer"]
    optimizer["learning_rate"] = None
    optimizer["hparams"] = {k: _program_value(v) for k, v in optimizer["hparams"].items()}
    doc["train"]["seeds"] = doc["train"]["epochs"] = None
    return json.dumps(doc, sort_keys=True)


def shrunk(cfg: Config, *, learning_rate: float | None = None) -> Config:
    """``cfg`` as a replay trains it."""
    doc = config_to_dict(cfg)
    doc["train"]["epochs"] = REPLAY_EPOCHS
    doc["train"]["seeds"] = doc["train"]["seeds"][:REPLAY_SEEDS]
    doc["data"]["train_size"] = REPLAY_IMAGES
    if learning_rate is not None:
        doc["optimizer"]["learning_rate"] = learning_rate
    return config_from_dict(doc, source="replay")


def _member_label(cfg: Config, diverging: bool) -> str:
    """``adam cosine 3fa2c1d0``: what tells the program apart and a digest of it, so that its
    runs have the same ids in whatever replay they train (no ``/``: it ends a run id's label)."""
    opt = cfg.optimizer
    digest = hashlib.sha256(program_key(cfg).encode()).hexdigest()[:8]
    parts = [opt.name.replace("/", ":")]
    if opt.schedule is not None:
        parts.append(opt.schedule.name)
    if opt.clipping is not None:
        parts.append(f"clip-{opt.clipping.method}-{opt.clipping.threshold:g}")
    if opt.cautious:
        parts.append("cautious")
    parts.append(digest)
    if diverging:
        parts.append("must-diverge")
    return " ".join(parts)


def by_run(results: Mapping[str, Any]) -> dict[str, Any]:
    """Replay results (key → result) as comparable pieces: an engine replay's runs by run id
    (the same run in whatever replay it trained), any other replay whole by its key."""
    out = {}
    for key, result in results.items():
        runs = result.get("runs") if isinstance(result, Mapping) else None
        if isinstance(runs, Mapping):
            out.update({f"run {run}": r for run, r in runs.items()})
        else:
            out[key] = result
    return out


def _engine_replay(members: dict[str, Config]) -> Replay:
    first = next(iter(members.values()))
    what = {
        "label": f"{len(members)} programs ({', '.join(members)})",
        "train": {label: config_to_dict(cfg) for label, cfg in members.items()},
    }

    def compute(replayer: Replayer) -> dict[str, Any]:
        from jaxopt_lab import engine  # the engine is imported only when a replay trains
        from jaxopt_lab.engine.outputs import read_metrics

        data = replayer.data(first.data, first.workload.name)
        with tempfile.TemporaryDirectory() as tmp:
            summary = engine.train_many(members, tmp, quiet=True, data=data)
            records = read_metrics(tmp)
        runs: dict[str, dict[str, Any]] = {}
        for rec in records:
            run = runs.setdefault(rec["run"], {"epochs": []})
            run["epochs"].append(
                {k: rec[k] for k in ("train_loss", "val_loss", "val_accuracy", "diverged")}
            )
        for s in summary["runs"]:
            runs[s["run"]].update(
                test_loss=s["test_loss"],
                test_accuracy=s["test_accuracy"],
                diverged_epoch=s["diverged_epoch"],
            )
        alive = [r for r, v in runs.items() if "must-diverge" in r and not v["diverged_epoch"]]
        if alive:
            raise ValueError(
                f"replay runs {alive} at learning rate {DIVERGING_RATE:g} did not diverge, so "
                "they do not exercise the engine's divergence path; raise DIVERGING_RATE in "
                "jaxopt_lab/studies/replays.py"
            )
        return {"runs": runs}

    return Replay(what, compute)


def _program_value(value: Any) -> Any:
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return [_program_value(v) for v in value]
    return value


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _plain(x: Any) -> Any:
    """JSON's view of a result (tuples → lists, NumPy scalars → floats), as it is stored."""
    return json.loads(json.dumps(x, default=float))

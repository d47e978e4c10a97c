"""Train a study's rows through the engine: rows → run configs → run sets → ``train_many``.

Rows whose ``model``, ``train`` and ``data`` sections agree train together as one run set
(``engine.train_many``: one compiled program per epoch, vmapped over every row × seed ×
learning rate), so runs with the same seed share their initial parameters and batch order
across rows — the pairing the statistics rely on — and the whole seed table is one program.
``run_together: false`` in the study trains each row alone (separate wall times per row); a
kind may also keep rows apart by a key of its own (``apart``: the field study trains each
optimizer's trials as one set, and each re-run arm alone, so that its epoch times are its own).

A run set's directory holds the engine's outputs; its ``metrics.jsonl`` records are told apart
by their run-id prefix, the row name. A run set already finished is kept, one interrupted is
resumed (bitwise, by the engine), unless ``overwrite``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from jaxopt_lab import engine
from jaxopt_lab.config import Config, config_from_dict
from jaxopt_lab.data import MNIST
from jaxopt_lab.engine.loop import steps_per_epoch as _epoch_steps
from jaxopt_lab.studies.spec import Row, StudySpec, row_config_dict, slugify
from jaxopt_lab.studies.store import Store
from jaxopt_lab.workloads import get as get_workload

# on_set(k, n, run-set directory, row names) is called before each of the n run sets trains.
OnSet = Callable[[int, int, str, Sequence[str]], None]


@dataclasses.dataclass(frozen=True)
class Phase:
    """One training phase of a study: the sub-directory of the study's directory its run sets
    go in (None: the study's directory itself), its rows, and ``apart`` (as in ``run_sets``)."""

    directory: str | None
    rows: list[Row]
    apart: Mapping[str, str] | None = None

    def store(self, study: Store) -> Store:
        return study if self.directory is None else study.child(self.directory)


# A kind's phases, in order; a later phase may read what the earlier ones trained (the tuning
# study's re-runs are chosen from its sweep), so the plan is consumed one phase at a time.
Plan = Callable[[StudySpec, Store], Iterator[Phase]]


def train_phases(
    spec: StudySpec,
    store: Store,
    phases: Iterable[Phase],
    *,
    overwrite: bool,
    quiet: bool,
    data: MNIST | None,
    on_set: OnSet | None,
) -> None:
    """Train each phase's rows in turn (``train_rows``)."""
    for phase in phases:
        train_rows(
            spec,
            phase.rows,
            phase.store(store),
            overwrite=overwrite,
            quiet=quiet,
            data=data,
            on_set=on_set,
            apart=phase.apart,
        )


def planned_sets(
    spec: StudySpec, store: Store, phases: Iterable[Phase]
) -> dict[str, dict[str, Config]]:
    """Every run set the phases train, by its directory relative to the study's (``sweep/set0``),
    without training: a later phase is planned from what ``store`` holds of the earlier ones."""
    out = {}
    for phase in phases:
        prefix = "" if phase.directory is None else f"{phase.directory}/"
        for dirname, members in run_sets(spec, row_configs(spec, phase.rows), phase.apart):
            out[prefix + dirname] = members
    return out


def row_configs(spec: StudySpec, rows: Sequence[Row]) -> dict[str, Config]:
    """Each row's validated run ``Config``; errors name the study file and the row, or
    ``--set`` when the command line set the key."""
    cli = set(spec.overrides)
    return {
        row.name: config_from_dict(
            row_config_dict(spec, row),
            source=f"{spec.source or 'study'} row {row.name!r}",
            overridden=cli,
        )
        for row in rows
    }


def run_sets(
    spec: StudySpec, configs: dict[str, Config], apart: Mapping[str, str] | None = None
) -> list[tuple[str, dict[str, Config]]]:
    """Rows grouped into run sets: equal workload/model/train/data sections, unless
    ``run_together`` is false. A set's directory is ``runs`` when it is the only one, else
    ``set<k>`` (or the row's slug when each row trains alone).

    ``apart`` (row name → key) keeps rows with different keys in different sets; each set's
    directory is then its key's slug (``<slug>-<k>`` when one key spans several sets).
    """
    if not spec.run_together:
        return [(slugify(name), {name: cfg}) for name, cfg in configs.items()]
    key = (lambda name: None) if apart is None else apart.__getitem__
    sets: list[tuple[str | None, dict[str, Config]]] = []
    for name, cfg in configs.items():
        for k, s in sets:
            first = next(iter(s.values()))
            shared = _shared(cfg) == _shared(first)
            if shared and k == key(name):
                s[name] = cfg
                break
        else:
            sets.append((key(name), {name: cfg}))
    if apart is not None:
        counts = Counter(k for k, _ in sets)
        seen: Counter[str | None] = Counter()
        named = []
        for k, s in sets:
            suffix = f"-{seen[k]}" if counts[k] > 1 else ""
            seen[k] += 1
            named.append((slugify(str(k)) + suffix, s))
        return named
    if len(sets) == 1:
        return [("runs", sets[0][1])]
    return [(f"set{k}", s) for k, (_, s) in enumerate(sets)]


def train_rows(
    spec: StudySpec,
    rows: Sequence[Row],
    store: Store,
    *,
    overwrite: bool,
    quiet: bool,
    data: MNIST | None,
    on_set: OnSet | None,
    apart: Mapping[str, str] | None = None,
) -> None:
    """Train the rows' run sets under ``store``; finished sets are kept unless ``overwrite``.
    ``apart``: as in ``run_sets``."""
    sets = run_sets(spec, row_configs(spec, rows), apart)
    store.write_runsets({dirname: list(members) for dirname, members in sets})
    # Splits are loaded once per (source, cache, split seed), not once per run set; data passed
    # in by the caller (tiny data in tests) serves every set.
    loaded: dict[tuple[Any, ...], MNIST] = {}
    for k, (dirname, members) in enumerate(sets):
        if on_set is not None:
            on_set(k + 1, len(sets), str(store.run_set_dir(dirname)), list(members))
        if not overwrite and store.finished(dirname, members):
            continue
        set_data = data
        if set_data is None:
            first = next(iter(members.values()))
            key = (first.workload, first.data.source, first.data.cache_dir, first.data.split_seed)
            if key not in loaded:
                loaded[key] = load_data(first)
            set_data = loaded[key]
        engine.train_many(
            members,
            store.run_set_dir(dirname),
            resume=not overwrite and store.has_metrics(dirname),
            overwrite=overwrite,
            quiet=quiet,
            data=set_data,
        )


def load_data(cfg: Config) -> MNIST:
    """The splits of the workload a run config asks for."""
    return get_workload(cfg.workload.name).load(cfg.data)


def steps_per_epoch(cfg: Config, data: MNIST | None) -> int:
    """Optimizer steps per epoch of a run config on ``data`` (else on its workload's training
    set, whose size the workload knows without loading it)."""
    n = cfg.data.train_size
    if n is None:
        n = (
            len(data.train.labels)
            if data is not None
            else get_workload(cfg.workload.name).train_size
        )
    return _epoch_steps(n, cfg.train.batch_size, cfg.train.last_batch)


def _shared(cfg: Config) -> tuple[Any, ...]:
    """What the configs of one run set share."""
    return (cfg.workload, cfg.model, cfg.train, cfg.data)

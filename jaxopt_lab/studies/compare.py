"""Run a study: every row's config trained by the engine, then the report built from the files.

    spec = load_spec("configs/studies/seed_table.yaml")
    report = run_study(spec, "runs/seed_table")      # report.path, report.headline

Rows whose ``model``, ``train`` and ``data`` sections agree train together as one run set
(``engine.train_many``: one compiled program per epoch, vmapped over every row × seed ×
learning rate), so runs with the same seed share their initial parameters and batch order
across rows — the pairing the statistics rely on — and the whole seed table is one program.
``run_together: false`` in the study trains each row alone (separate wall times per row).

Layout of ``out_dir``: ``study.yaml`` (the resolved study), one directory per run set holding
the engine's outputs (``metrics.jsonl`` records are told apart by their run-id prefix, the row
name), and the report files. A run set already finished is kept, one interrupted is resumed
(bitwise, by the engine), unless ``overwrite``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from jaxopt_lab.config import Config, config_from_dict, config_to_dict
from jaxopt_lab.data import MNIST
from jaxopt_lab.studies import landscapes, report, schedules, second_order, tuning
from jaxopt_lab.studies.aggregate import summarize_arms
from jaxopt_lab.studies.spec import row_config_dict, slugify

OnSet = Callable[[int, int, str, Sequence[str]], None]


def row_configs(
    spec: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], n_train: int | None
) -> dict[str, Config]:
    """Each row's validated ``Config``; a row's ``schedule:`` is resolved against its step count.

    ``n_train`` is the number of training images when known (tiny data in tests); otherwise
    ``data.train_size`` or the notebook's 50,000.
    """
    out = {}
    for row in rows:
        name = str(row["name"])
        if "/" in name:
            raise ValueError(f"row name {name!r} may not contain '/' (it prefixes run ids)")
        tree = row_config_dict(spec, row)
        where = f"{spec.get('source', 'study')} row {name!r}"
        cli = set(spec.get("overrides") or {})  # so errors name --set when it set the key
        if row.get("schedule") is not None:
            probe = config_from_dict(tree, source=where, overridden=cli)
            size = probe.data.train_size or n_train or 50_000
            steps = schedules.steps_per_epoch(size, probe.train.batch_size, probe.train.last_batch)
            sched = schedules.schedule_config(row["schedule"], steps * probe.train.epochs)
            tree.setdefault("optimizer", {})["schedule"] = sched
        out[name] = config_from_dict(tree, source=where, overridden=cli)
    return out


def run_sets(
    spec: Mapping[str, Any], configs: Mapping[str, Config]
) -> list[tuple[str, dict[str, Config]]]:
    """Rows grouped into run sets: equal model/train/data sections, unless ``run_together`` is
    false. A set's directory is ``runs`` when it is the only one, else ``set<k>`` (or the row's
    slug when each row trains alone)."""
    if not spec.get("run_together", True):
        return [(slugify(name), {name: cfg}) for name, cfg in configs.items()]
    sets: list[dict[str, Config]] = []
    for name, cfg in configs.items():
        for s in sets:
            first = next(iter(s.values()))
            if (cfg.model, cfg.train, cfg.data) == (first.model, first.train, first.data):
                s[name] = cfg
                break
        else:
            sets.append({name: cfg})
    if len(sets) == 1:
        return [("runs", sets[0])]
    return [(f"set{k}", s) for k, s in enumerate(sets)]


def train_rows(
    spec: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    base: Path,
    *,
    overwrite: bool,
    quiet: bool,
    data: MNIST | None,
    on_set: OnSet | None,
) -> None:
    """Train the rows' run sets under ``base``; finished sets are kept unless ``overwrite``."""
    from jaxopt_lab import engine  # the engine pulls in jax programs; only runs need it

    configs = row_configs(spec, rows, None if data is None else len(data.train))
    sets = run_sets(spec, configs)
    base.mkdir(parents=True, exist_ok=True)
    # The index tells the report which directories hold this study's rows, so a directory left
    # by an earlier layout of the study (other rows, other sets) is never read twice.
    index = {dirname: list(members) for dirname, members in sets}
    (base / report.RUNSETS_FILE).write_text(json.dumps(index, indent=1))
    # Splits are loaded once per (source, cache, split seed), not once per run set; data passed
    # in by the caller (tiny data in tests) serves every set.
    loaded: dict[tuple[Any, ...], MNIST] = {}
    for k, (dirname, members) in enumerate(sets):
        set_dir = base / dirname
        if on_set is not None:
            on_set(k + 1, len(sets), str(set_dir), list(members))
        if not overwrite and _finished(set_dir, members):
            continue
        resume = not overwrite and (set_dir / "metrics.jsonl").is_file()
        set_data = data
        if set_data is None:
            d = next(iter(members.values())).data
            key = (d.source, d.cache_dir, d.split_seed)
            if key not in loaded:
                loaded[key] = _load_data(next(iter(members.values())))
            set_data = loaded[key]
        engine.train_many(
            members, set_dir, resume=resume, overwrite=overwrite, quiet=quiet, data=set_data
        )


def run_study(
    spec: Mapping[str, Any],
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    quiet: bool = False,
    data: MNIST | None = None,
    on_set: OnSet | None = None,
) -> report.Report:
    """Run every phase of the study in ``out_dir``, then build and return its report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / report.STUDY_FILE).write_text(yaml.safe_dump(dict(spec), sort_keys=False))
    kind = spec["kind"]
    opts = {"overwrite": overwrite, "quiet": quiet, "data": data, "on_set": on_set}
    if kind == "compare":
        train_rows(spec, spec["rows"], out_dir, **opts)
    elif kind == "tuning":
        cfg = tuning.settings(spec)
        sweep = tuning.sweep_rows(spec)
        train_rows(spec, sweep, out_dir / "sweep", **opts)
        rows = report.read_rows(out_dir / "sweep", sweep)
        arms = summarize_arms(rows.runs, float(spec["report"]["target_accuracy"]))
        best = tuning.best_learning_rates(arms, cfg["metric"])
        train_rows(spec, tuning.final_rows(spec, best), out_dir / "final", **opts)
    elif kind == "landscapes":
        results = landscapes.run(spec.get("landscapes") or {})
        (out_dir / "results.json").write_text(json.dumps(results))
    elif kind == "second_order":
        cfg = copy.deepcopy(dict(spec["second_order"]))
        if data is None:
            data = _load_data(
                config_from_dict(
                    {
                        "optimizer": {"name": "adam", "learning_rate": 1e-3},
                        **(spec.get("base") or {}),
                    }
                )
            )
        results = second_order.run(cfg, data)
        (out_dir / "results.json").write_text(json.dumps(results))
    return report.build_report(out_dir)


def _finished(set_dir: Path, members: Mapping[str, Config]) -> bool:
    """A set is finished when its summary exists for the epochs asked and its saved config is
    this one (a changed study falls through to resume, where the engine names the mismatch)."""
    summary, saved = set_dir / "summary.json", set_dir / "config.yaml"
    if not (summary.is_file() and saved.is_file()):
        return False
    first = next(iter(members.values()))
    if json.loads(summary.read_text()).get("epochs_completed") != first.train.epochs:
        return False
    resolved = (
        config_to_dict(first)
        if len(members) == 1
        else {k: config_to_dict(c) for k, c in members.items()}
    )
    return yaml.safe_load(saved.read_text()) == yaml.safe_load(yaml.safe_dump(resolved))


def _load_data(cfg: Config) -> MNIST:
    from jaxopt_lab.data import load_mnist

    return load_mnist(
        source=cfg.data.source, cache_dir=cfg.data.cache_dir, split_seed=cfg.data.split_seed
    )

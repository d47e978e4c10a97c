"""Published studies: results that travel with the code, and whether the code still computes them.

    jaxopt-lab publish runs/seed_table                     # → results/seed_table/
    jaxopt-lab publish runs/field --allow-incomplete       # the finished run sets so far
    jaxopt-lab publish --restore results/field runs/field  # train on where it stopped
    jaxopt-lab publish --check results/seed_table          # is it current?

``results/<study>/`` is a study directory that the store reads like any other (the report is
rebuilt from it alone: ``jaxopt-lab report results/<study>``), holding the records and
not the checkpoints: ``study.yaml``, ``provenance.json``, ``runsets.json``, ``results.json``,
each run set's ``config.yaml``, ``summary.json`` and ``metrics.jsonl.gz``; the report, its
tables and figures (reduced to 64 colours); and ``fingerprint.json``, what the code computed
when it was published:

- *replays* (``jaxopt_lab.studies.replays``): small re-computations of the study's own paths;
- *data*: the sha256 of the MNIST files and of each split's indices it uses;
- *platform*: Python, the libraries' versions and the CPU;
- *code*: the text digests of the modules (``jaxopt_lab.provenance``): only to say which files
  changed since, never to judge.

A published study is **current** (``verify``) when the present code, on the present study file,

1. resolves it to the same study (the ``study.yaml`` beyond its report section) and, for a kind
   trained by the engine, to the same run-set configurations, the second phase chosen from the
   stored first-phase records included (no training);
2. splits the data the same way;
3. computes the same replays within ``replays.TOLERANCE``.

Where a replay moved and the libraries differ from those that published it, the study cannot be
verified here (the versions that would are named), which is not stale. Everything else that
fails is stale, with what moved, by how much, and the command that regenerates it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import platform
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab import provenance, workloads
from jaxopt_lab._typed_yaml import differences as config_differences
from jaxopt_lab.config import Config
from jaxopt_lab.data import mnist, mnist1d
from jaxopt_lab.data.canonical import PUBLISHED_SHA256
from jaxopt_lab.engine.lock import OutputLock
from jaxopt_lab.optimizers import registry
from jaxopt_lab.studies import completeness
from jaxopt_lab.studies.kinds import KINDS
from jaxopt_lab.studies.load import load_spec, stored_spec
from jaxopt_lab.studies.replays import (
    TOLERANCE,
    Difference,
    Replay,
    Replayer,
    Tolerance,
    by_run,
    engine_replays,
)
from jaxopt_lab.studies.replays import differences as replay_differences
from jaxopt_lab.studies.report import build_report
from jaxopt_lab.studies.runner import REPORT_ONLY
from jaxopt_lab.studies.runsets import planned_sets
from jaxopt_lab.studies.spec import StudySpec, spec_to_dict
from jaxopt_lab.studies.store import RESULTS_DIR, RUNS_DIR, ReportError, Store, as_saved

MNIST_TRAIN_IMAGES = 60_000
# A study's run sets by directory (``runsets.planned_sets``); None for a kind with its own loop.
Planned = dict[str, dict[str, Config]] | None


class PublishError(ValueError):
    """A study cannot be published, restored or verified as asked; the message says why and
    what to do."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a published study is current: what moved (``stale``), what could not be checked
    here (``unverifiable``), and the files whose text changed since it was published."""

    study: str
    root: Path
    stale: tuple[str, ...] = ()
    unverifiable: tuple[str, ...] = ()
    changed_files: tuple[str, ...] = ()
    replays: int = 0
    unfinished: tuple[str, ...] = ()  # a study published part-way (it is continued later)

    @property
    def current(self) -> bool:
        return not self.stale and not self.unverifiable

    @property
    def regenerate(self) -> str:
        return regenerate_command(self.study)

    def message(self) -> str:
        """One paragraph: the verdict, its reasons, and the command that regenerates it."""
        changed = (
            f" Files changed since it was published: {', '.join(self.changed_files)}."
            if self.changed_files
            else ""
        )
        if self.stale:
            return (
                f"{self.root} is stale: {'; '.join(self.stale)}.{changed} Regenerate it: "
                f"{self.regenerate}"
            )
        if self.unverifiable:
            return f"{self.root} cannot be verified here: {'; '.join(self.unverifiable)}."
        if self.unfinished:
            return (
                f"{self.root} is current so far ({_replays(self.replays)}) and unfinished: "
                f"{len(self.unfinished)} run sets to train. Continue it: "
                f"{continue_command(self.study)}.{changed}"
            )
        return f"{self.root} is current ({_replays(self.replays)}).{changed}"


def regenerate_command(study: str) -> str:
    runs = RUNS_DIR / study
    return (
        f"jaxopt-lab compare --config configs/studies/{study}.yaml --out {runs} "
        f"--overwrite && jaxopt-lab publish {runs}"
    )


def _replays(n: int) -> str:
    return f"{n} replay agrees" if n == 1 else f"{n} replays agree"


def continue_command(study: str) -> str:
    runs, results = RUNS_DIR / study, RESULTS_DIR / study
    return (
        f"jaxopt-lab publish --restore {results} {runs} && jaxopt-lab compare "
        f"--config configs/studies/{study}.yaml --out {runs} && jaxopt-lab publish {runs}"
    )


# --------------------------------------------------------------------------- publish


def publish(
    run_dir: str | Path,
    dest: str | Path | None = None,
    *,
    allow_incomplete: bool = False,
    replayer: Replayer | None = None,
) -> Path | None:
    """Publish the study in ``run_dir`` into ``dest`` (default ``results/<its directory's
    name>``): its records, its fingerprint, then its report rebuilt from the published records.
    Returns the report's path (None: an unfinished study with rows not yet started, which has
    no report).

    ``allow_incomplete`` publishes the finished run sets of an unfinished study (a long study
    over several sittings: ``restore`` puts them back to train the rest).

    Raises:
      PublishError: the study is unfinished (and not ``allow_incomplete``), or was trained by
        other code than the present one and no earlier publication vouches for it.
    """
    source = Store(Path(run_dir))
    target = Store(Path(dest) if dest is not None else RESULTS_DIR / source.root.name)
    spec = stored_spec(source)
    if spec.source:  # a `module:factory` beside the study file, as compare.py found it
        registry.add_module_folder(Path(spec.source).parent)
    unfinished = completeness.incomplete(source.progress())
    if unfinished and not allow_incomplete:
        raise PublishError(
            f"{source.root} is unfinished ({'; '.join(completeness.describe(unfinished))}): "
            "finish it first (rerun its jaxopt-lab compare command), or publish the finished "
            "run sets so far with --allow-incomplete"
        )
    with OutputLock(source.root):  # not while the study trains
        finished = [s for s in source.run_set_dirs() if s not in {u.where for u in unfinished}]
        unsealed = source.unsealed(finished)
        if unsealed:
            raise PublishError(
                f"{source.root}: the records of {', '.join(unsealed)} carry no digests (written "
                "before jaxopt_lab sealed them), so no later edit could be told apart. Look them "
                f"over, then seal them as they are: jaxopt-lab publish --seal {run_dir}"
            )
        fingerprint = _fingerprint(spec, source, replayer or Replayer())
        fingerprint["complete"] = not unfinished
        _check_trained_by_present_code(source, target, fingerprint)
        staging = Store(target.root.with_name(f".{target.root.name}.publishing"))
        shutil.rmtree(staging.root, ignore_errors=True)
        source.copy_records(staging, compress=True, only=finished)
        staging.write_fingerprint(fingerprint)
        if target.root.exists():
            shutil.rmtree(target.root)
        staging.root.rename(target.root)
    try:
        return build_report(target.root, allow_incomplete=allow_incomplete).path
    except ReportError:
        if not unfinished:
            raise
        return None  # rows that never started cannot be reported, even partly


def restore(results_dir: str | Path, run_dir: str | Path) -> list[str]:
    """Put a published study's records back into ``run_dir``, so that its jaxopt-lab compare
    command keeps the finished run sets and trains only the rest. Returns the run sets
    restored.

    Raises:
      PublishError: ``run_dir`` already holds a study.
    """
    source, target = Store(Path(results_dir)), Store(Path(run_dir))
    source.read_fingerprint()  # refuse anything but a published study
    if target.has_spec():
        raise PublishError(
            f"{target.root} already holds a study: restore into an empty directory (or delete "
            f"{target.root} first)"
        )
    sets = [s for s in source.run_set_dirs() if source.saved_config(s) is not None]
    source.copy_records(target, compress=False, only=sets)
    return sets


def _check_trained_by_present_code(
    source: Store, target: Store, fingerprint: Mapping[str, Any]
) -> None:
    """The replays describe the code that trained the study: either every call that trained
    it ran the present code (text digests), or an earlier publication of it (a part published
    in an earlier sitting) has replays that the present code still computes."""
    present = provenance.fingerprint(provenance.code_files())
    calls = source.read_provenance()
    others = [c for c in calls if c.get("code_sha256") != present]
    if not others:
        return
    if target.published:
        earlier = by_run({k: r["result"] for k, r in target.read_fingerprint()["replays"].items()})
        present = by_run({k: r["result"] for k, r in fingerprint["replays"].items()})
        common = sorted(set(earlier) & set(present))
        moved = [
            f"{key}: {d}"
            for key in common
            for d in replay_differences(earlier[key], present[key], TOLERANCE)
        ]
        if common and not moved:
            return
        detail = (
            f"and the replays moved since its earlier publication ({moved[0]})"
            if moved
            else "and its earlier publication shares no replay with it"
        )
    else:
        detail = "and no earlier publication of it vouches that the code computes the same"
    changed = provenance.changed_files(others[0].get("files", {}))
    raise PublishError(
        f"{source.root} was trained (call of {others[0].get('started')}) by code other than "
        f"the present one (changed: {', '.join(changed) or 'unknown'}), {detail}: the replays "
        f"computed now would not describe it. Retrain it: {regenerate_command(source.root.name)}"
    )


# --------------------------------------------------------------------------- the fingerprint


def _fingerprint(spec: StudySpec, store: Store, replayer: Replayer) -> dict[str, Any]:
    planned = plan(spec, store)
    replays = study_replays(spec, planned)
    return {
        "published": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform_record(),
        "data": data_record(spec, planned),
        "code": provenance.code_files(),
        "tolerance": dataclasses.asdict(TOLERANCE),
        "replays": {
            key: {"what": r.what, "result": replayer.result(r)} for key, r in replays.items()
        },
    }


def plan(spec: StudySpec, store: Store) -> Planned:
    """The run sets the present code plans for the study, from what ``store`` holds of its
    earlier phases (None: a kind with its own loop). Of an unfinished study, the phases that
    can be planned from what it holds."""
    kind = KINDS[spec.kind]
    if kind.plan is None:
        return None
    if not completeness.incomplete(store.progress()):
        return planned_sets(spec, store, kind.plan(spec, store))
    planned: dict[str, dict[str, Config]] = {}
    phases = kind.plan(spec, store)
    while True:
        try:
            phase = next(phases)
        except StopIteration:
            return planned
        except ReportError:  # a later phase is chosen from records not trained yet
            return planned
        planned.update(planned_sets(spec, store, [phase]))


def study_replays(spec: StudySpec, planned: Planned) -> dict[str, Replay]:
    """The study's replays, by key: from its planned run sets (engine kinds), else the kind's."""
    if planned is not None:
        return engine_replays(_configs(planned))
    replays = KINDS[spec.kind].replays
    return replays(spec) if replays is not None else {}


def platform_record() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "libraries": {name: provenance.library_version(name) for name in provenance.LIBRARIES},
        "cpu": cpu_name(),
    }


def cpu_name() -> str:
    """The CPU's model name (``lscpu``'s), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def data_record(spec: StudySpec, planned: Planned) -> dict[str, Any]:
    """The MNIST files' sha256s and each split's index digest, for a kind that reads MNIST;
    for a study of other workloads than the default, their names, and MNIST-1D's digests when
    one of them trains on it."""
    if not KINDS[spec.kind].uses_data:
        return {}
    names: list[str] = []
    if planned is not None:
        configs = _configs(planned)
        seeds = sorted({c.data.split_seed for c in configs})
        names = sorted({c.workload.name for c in configs} - {workloads.DEFAULT})
    else:
        seeds = [int(spec.base.get("data", {}).get("split_seed", 0))]
    record: dict[str, Any] = {
        "files": dict(PUBLISHED_SHA256),
        "splits": {str(s): split_digest(s) for s in seeds},
    }
    if names:
        record["workload_names"] = names
    if any(name.startswith("mnist1d") for name in names):
        record["mnist1d"] = dict(mnist1d.PUBLISHED_SHA256)
    return record


def split_digest(split_seed: int) -> str:
    """sha256 of the train and validation indices of a split (train first)."""
    train, val = mnist.split_indices(MNIST_TRAIN_IMAGES, split_seed)
    return hashlib.sha256(np.concatenate([train, val]).astype("<i8").tobytes()).hexdigest()


# --------------------------------------------------------------------------- verify


def verify(
    results_dir: str | Path,
    study_file: str | Path | None = None,
    *,
    replayer: Replayer | None = None,
    tolerance: Tolerance = TOLERANCE,
) -> Verdict:
    """Whether the published study in ``results_dir`` is current (module docstring).

    ``study_file``: the study as the repository has it now (default: the file it was
    published from, ``configs/studies/<study>.yaml``).
    """
    store = Store(Path(results_dir))
    published = stored_spec(store)
    fingerprint = store.read_fingerprint()
    name = store.root.name
    present = load_spec(study_file or published.source or f"configs/studies/{name}.yaml")
    stale: list[str] = []
    changed = tuple(provenance.changed_files(fingerprint.get("code", {})))
    base = {"study": name, "root": store.root, "changed_files": changed}

    moved = config_differences(_runs_of(spec_to_dict(published)), _runs_of(spec_to_dict(present)))
    if moved:
        stale.append(f"the study file resolves to another study ({'; '.join(moved[:3])})")
        return Verdict(**base, stale=tuple(stale))
    unfinished = tuple(u.where for u in completeness.incomplete(store.progress()))
    if unfinished and fingerprint.get("complete", True):
        stale.append(
            f"it was published whole, but the records of run sets {', '.join(unfinished[:3])}"
            f"{' …' if len(unfinished) > 3 else ''} are missing or damaged"
        )
        return Verdict(**base, stale=tuple(stale))
    base["unfinished"] = unfinished
    try:
        planned = plan(present, store)
    except ValueError as error:  # the stored records no longer plan the same study
        return Verdict(**base, stale=(*stale, f"its run sets cannot be planned ({error})"))
    stale += _resolution(planned, store, unfinished)
    replays = study_replays(present, planned)
    data = data_record(present, planned)
    for what, then, now in (
        ("the MNIST files", fingerprint["data"].get("files"), data.get("files")),
        ("the split indices", fingerprint["data"].get("splits"), data.get("splits")),
    ):
        if then != now:
            stale.append(f"{what} differ from those it was published with")

    recorded = fingerprint["replays"]
    missing = [replays[k].label for k in replays if k not in recorded]
    dropped = [recorded[k]["what"].get("label", k) for k in recorded if k not in replays]
    if missing:
        stale.append(f"replays not recorded at publication: {', '.join(missing)}")
    if dropped:
        stale.append(f"recorded replays the study no longer has: {', '.join(dropped)}")
    replayer = replayer or Replayer()
    present_results = {k: replayer.result(r) for k, r in replays.items() if k in recorded}
    moved_replays = _replay_differences(fingerprint, present_results, tolerance)
    libraries = _library_changes(fingerprint["platform"]["libraries"])
    if moved_replays and libraries:
        return Verdict(
            **base,
            stale=tuple(stale),
            unverifiable=(
                f"{moved_replays[0]}, and the libraries differ from those it was published "
                f"with ({', '.join(libraries)}): install those versions to verify it",
            ),
            replays=len(present_results),
        )
    stale += [str(d) for d in moved_replays[:3]]
    if len(moved_replays) > 3:
        stale.append(f"… {len(moved_replays) - 3} more differences")
    return Verdict(**base, stale=tuple(stale), replays=len(present_results))


@dataclasses.dataclass(frozen=True)
class _Moved:
    replay: str
    difference: Difference
    tolerance: Tolerance

    def __str__(self) -> str:
        return f"replay {self.replay!r} moved at {self.difference} (tolerance {self.tolerance})"


def _replay_differences(
    fingerprint: Mapping[str, Any], present: Mapping[str, Any], tolerance: Tolerance
) -> list[_Moved]:
    out = []
    for key, result in present.items():
        recorded = fingerprint["replays"].get(key)
        if recorded is None:
            continue
        label = recorded["what"].get("label", key)
        moved = replay_differences(recorded["result"], result, tolerance)
        out += [_Moved(label, d, tolerance) for d in moved]
    return out


def _resolution(planned: Planned, store: Store, unfinished: Sequence[str]) -> list[str]:
    """Where the run sets the present code plans differ from those the study trained (of an
    unfinished study, from those it trained so far)."""
    if planned is None:
        return []
    out = []
    for where, members in planned.items():
        saved = store.saved_config(where)
        if saved is None:
            if where not in unfinished:
                out.append(f"run set {where} would be trained but was not")
            continue
        moved = config_differences(saved, as_saved(members))
        if moved:
            out.append(f"run set {where} resolves to other configs ({'; '.join(moved[:3])})")
    extra = sorted(set(store.run_set_dirs()) - set(planned))
    if extra:
        out.append(f"run sets {', '.join(extra)} are no longer part of the study")
    return out


def _library_changes(recorded: Mapping[str, str | None]) -> list[str]:
    out = []
    for name, version in recorded.items():
        now = provenance.library_version(name)
        if now != version:
            out.append(f"{name} {version} published, {now} here")
    return out


def _configs(sets: Mapping[str, Mapping[str, Config]]) -> list[Config]:
    return [cfg for members in sets.values() for cfg in members.values()]


def _runs_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in REPORT_ONLY}

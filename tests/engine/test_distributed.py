"""Data parallelism: 4 devices and 2 processes train as 1 device does; bad setups fail clearly.

Several devices and processes need a fresh JAX, so those runs are subprocesses (with a time
bound, killed on failure); the reference single-device run trains in this process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.config import ConfigError, DistributedConfig
from jaxopt_lab.engine import train
from jaxopt_lab.engine.distributed import process_settings
from jaxopt_lab.engine.mesh import placement
from jaxopt_lab.engine.rendezvous import PeersMissingError, rendezvous
from tests.synthetic import synthetic_mnist

from .conftest import tiny_config

ROOT = Path(__file__).parents[2]
TIMEOUT = 120
# 256 = 16 batches of 16; 2 seeds × 2 learning rates: vmapped runs on the split batch.
SETUP = """
import json, sys
import jax
from jaxopt_lab.engine import train
from tests.engine.conftest import tiny_config
from tests.synthetic import synthetic_mnist
DATA = synthetic_mnist(256, 64)
def config(**train):
    return tiny_config(
        optimizer={"name": "adam", "learning_rate": [1e-3, 3e-3]},
        train={"epochs": 1, "batch_size": 16, "seeds": [0, 1], **train},
        distributed={"initialization_timeout": 30},
    )
def finals(summary):
    return {r["run"]: [*r["final"].values(), r["test_loss"]] for r in summary["runs"]}
"""

FOUR_DEVICES = (
    SETUP
    + """
from jaxopt_lab.engine.mesh import placement
from jaxopt_lab.engine.placement import device_splits
from jaxopt_lab.engine.programs import compile_run_set
from jaxopt_lab.engine.runner import PROGRAMS
out = sys.argv[1]
one = train(config(devices=1), out + "/one", quiet=True, data=DATA)
four = train(config(run_devices=1), out + "/four", quiet=True, data=DATA)  # batch over all 4
place = placement(None, 16)
# The programs the 4-device run trained with: the same run set, from the engine's cache.
def programs(place, **train):
    splits = device_splits(config(**train), DATA, place)
    return compile_run_set({"adam": config(**train)}, splits, place, cache=PROGRAMS).programs
program = programs(place)
indices, weights = program.epoch.input_shardings[0][2]
order = place.put_order((jax.numpy.zeros((2, 16, 16), "int32"), jax.numpy.ones((16, 16))))
def error(**train):
    try:
        train_ = config(**train)
        globals()["train"](train_, out + "/bad", quiet=True, data=DATA)
    except ValueError as e:
        return str(e)
four_seeds = [0, 1, 2, 3]
by_seed = {"one": finals(train(config(devices=1, seeds=four_seeds), out + "/s1", quiet=True,
                                   data=DATA))}
for runs in (2, 4):
    summary = train(config(run_devices=runs, seeds=four_seeds), out + f"/s{runs}", quiet=True,
                    data=DATA)
    by_seed[runs] = finals(summary)
    by_seed[f"device{runs}"] = summary["device"]
# Resumed on another layout: 1 epoch as 2 × 2, the second as runs 4 × data 1.
train(config(run_devices=2, seeds=four_seeds), out + "/r", quiet=True, data=DATA)
resumed = train(config(run_devices=4, seeds=four_seeds, epochs=2), out + "/r", resume=True,
                quiet=True, data=DATA)
two_epochs = train(config(devices=1, seeds=four_seeds, epochs=2), out + "/r1", quiet=True,
                   data=DATA)
rates = {"name": "adam", "learning_rate": [1e-3, 2e-3, 3e-3, 4e-3]}
def by_rate(**train_):
    c = tiny_config(optimizer=rates, train={"epochs": 1, "batch_size": 16, "seeds": [0],
                                            **train_})
    return train(c, out + f"/l{train_}", quiet=True, data=DATA)
hlo = {runs: programs(placement(None, 16, runs, 4, (2,)), seeds=four_seeds).epoch.as_text()
       for runs in (2, 4)}
print(json.dumps({
    "one": finals(one), "four": finals(four), "devices": [one["device"], four["device"]],
    "order_spec": [list(indices.spec), list(weights.spec)],
    "shard_shapes": sorted({s.data.shape for s in order[0].addressable_shards}),
    "per_device_batch": "f32[4,784]" in program.epoch.as_text(),
    "default_for_10": placement(None, 10).device_count,
    "default_layout": [placement(None, 16, None, 4, (2,)).mesh.devices.shape,
                       placement(None, 16, None, 2, (2,)).mesh.devices.shape,
                       placement(None, 16, None, 1, (2,)).mesh.devices.shape,
                       placement(None, 16, None, 3, (2, 4)).mesh.devices.shape,
                       placement(None, 16, None, 3, (3,)).mesh.devices.shape],
    "by_seed": by_seed,
    "resumed": finals(resumed), "two_epochs": finals(two_epochs),
    "by_rate": [finals(by_rate(devices=1)), by_rate(run_devices=4)],
    "all_reduce": {runs: "all-reduce" in text for runs, text in hlo.items()},
    "errors": [error(devices=4, batch_size=18, run_devices=1), error(run_devices=3),
               error(run_devices=4, seeds=[0, 1, 2])],
}))
"""
)

ONE_PROCESS_OF_TWO = (
    SETUP
    + """
summary = train(config(), sys.argv[1], quiet=True, data=DATA)  # by default a seed each
# Resumed to a second epoch, data parallel: process 0 sends its checkpoint and records to
# process 1.
resumed = train(config(epochs=2, run_devices=1), sys.argv[1], resume=True, quiet=True,
                data=DATA)
print(json.dumps({"process": jax.process_index(), "device": summary["device"],
                  "resumed_device": resumed["device"],
                  "finals": finals(summary), "resumed": finals(resumed),
                  "best": [r["best"] for r in resumed["runs"]]}))
"""
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(code: str, arg: str, **env: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    environment.pop("XLA_FLAGS", None)
    environment.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT), **env)
    return subprocess.Popen(
        [sys.executable, "-c", code, arg],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, killed as a whole below
    )


def _finish(processes: list[subprocess.Popen], timeout: float = TIMEOUT) -> list[str]:
    """Every process's stdout; on a failure or timeout, kill them all and show stderr."""
    deadline = time.monotonic() + timeout
    outputs = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if process.returncode != 0:
                pytest.fail(f"subprocess failed ({process.returncode}):\n{err[-3000:]}")
            outputs.append(out)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return outputs


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _finals(summary: dict) -> dict:
    return {r["run"]: [*r["final"].values(), r["test_loss"]] for r in summary["runs"]}


def _assert_close(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for run, values in expected.items():
        np.testing.assert_allclose(actual[run], values, rtol=2e-5, atol=1e-6, err_msg=run)


def test_four_devices_split_the_runs_or_the_batch_and_match_one_device(tmp_path):
    flags = "--xla_force_host_platform_device_count=4"
    (out,) = _finish([_start(FOUR_DEVICES, str(tmp_path), XLA_FLAGS=flags)], timeout=300)
    result = _last_json(out)
    assert result["devices"] == ["cpu", "cpu × 4"]
    _assert_close(result["four"], result["one"])
    # The epoch's indices are split along the batch axis: each device holds 16 / 4 columns,
    # and the step computes on [4, 784] inputs, not on the whole batch.
    assert result["order_spec"] == [[None, None, "data"], [None, "data"]]
    assert result["shard_shapes"] == [[2, 16, 4]]
    assert result["per_device_batch"]
    assert result["default_for_10"] == 2  # the most devices that divide the batch
    # By default the runs take the most devices that split the seeds, else the rates (2 each).
    assert result["default_layout"] == [[4, 1], [2, 2], [2, 2], [2, 2], [1, 4]]
    # Runs over 2 × 2 and 4 × 1 devices, split by seed: the single-device metrics.
    by_seed = result["by_seed"]
    for runs in ("2", "4"):
        _assert_close(by_seed[runs], by_seed["one"])
    assert by_seed["device2"] == "cpu × 4 (runs 2 × data 2, by seed)"
    assert by_seed["device4"] == "cpu × 4 (runs 4 × data 1, by seed)"
    # Only the batch split communicates: runs over every device need no collective.
    assert result["all_reduce"] == {"2": True, "4": False}
    # Resumed on another layout: an uninterrupted single-device run, to rounding.
    _assert_close(result["resumed"], result["two_epochs"])
    # Split by learning rate: 4 rates of one seed, one per device.
    one_device, by_rate = result["by_rate"]
    assert by_rate["device"] == "cpu × 4 (runs 4 × data 1, by learning rate)"
    _assert_close(_finals(by_rate), one_device)
    batch, not_dividing, neither = result["errors"]
    assert "train.batch_size=18" in batch and "4 devices" in batch
    assert "multiple of 4" in batch
    assert "train.run_devices=3 does not divide the 4 devices" in not_dividing
    assert "train.run_devices=4 divides neither the 3 seed(s) nor" in neither


def test_two_processes_train_a_seed_each_resume_data_parallel_and_only_process_0_writes(
    tmp_path,
):
    port = _free_port()
    outs = [tmp_path / "p0", tmp_path / "p1"]
    processes = [
        _start(
            ONE_PROCESS_OF_TWO,
            str(out),
            JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
            JAX_NUM_PROCESSES="2",
            JAX_PROCESS_ID=str(index),
        )
        for index, out in enumerate(outs)
    ]
    results = [_last_json(out) for out in _finish(processes)]
    config = tiny_config(
        optimizer={"name": "adam", "learning_rate": [1e-3, 3e-3]},
        train={"epochs": 1, "batch_size": 16, "seeds": [0, 1]},
    )
    data = synthetic_mnist(256, 64)
    one_epoch = _finals(train(config, tmp_path / "ref1", quiet=True, data=data))
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=2))
    two_epochs = train(config, tmp_path / "ref2", quiet=True, data=data)
    assert [r["process"] for r in results] == [0, 1]
    for result in results:
        assert result["device"] == "cpu × 2 (2 processes, runs 2 × data 1, by seed)"
        assert result["resumed_device"] == "cpu × 2 (2 processes)"
        _assert_close(result["finals"], one_epoch)
        _assert_close(result["resumed"], _finals(two_epochs))
        assert [b["epoch"] for b in result["best"]] == [
            r["best"]["epoch"] for r in two_epochs["runs"]
        ]
    assert (outs[0] / "summary.json").exists() and (outs[0] / "checkpoints").is_dir()
    assert not outs[1].exists()


def test_an_unreachable_coordinator_fails_in_bounded_time_naming_the_address(tmp_path):
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    code = """
import sys
from jaxopt_lab.engine import train
from jaxopt_lab.engine.distributed import CoordinatorUnreachableError
from tests.engine.conftest import tiny_config
from tests.synthetic import synthetic_mnist
config = tiny_config(distributed={
    "coordinator_address": sys.argv[1], "num_processes": 2, "process_id": 1,
    "initialization_timeout": 2})
try:
    train(config, "unused", quiet=True, data=synthetic_mnist(64, 16))
except CoordinatorUnreachableError as error:
    print(error)
"""
    started = time.monotonic()
    (out,) = _finish([_start(code, address)], timeout=60)
    assert time.monotonic() - started < 30
    assert f"no JAX coordinator answered at {address} within 2 s" in out
    assert "start process 0 first" in out


def test_process_0_without_its_peer_fails_in_bounded_time_naming_the_missing_process(tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    # scripts/train.py as a user runs it, with a progress line every second instead of 10.
    code = """
import runpy, sys
from jaxopt_lab.engine import rendezvous
rendezvous.REPORT_EVERY = 1.0
sys.argv = ["scripts/train.py", "--config", "configs/adam.yaml", "--out", sys.argv[1],
            "--set", "distributed.initialization_timeout=3"]
runpy.run_path("scripts/train.py", run_name="__main__")
"""
    started = time.monotonic()
    process = _start(
        code,
        str(tmp_path / "out"),
        JAX_COORDINATOR_ADDRESS=address,
        JAX_NUM_PROCESSES="2",
        JAX_PROCESS_ID="0",
    )
    try:
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert time.monotonic() - started < 30
    assert process.returncode == 2, err  # the script's "error:" exit, not SIGABRT (-6)
    assert f"error: only 1 of 2 processes joined at {address} within 3 s" in err
    assert "(joined: 0; missing: 1); start process 1 with JAX_PROCESS_ID=1" in err
    assert f"JAX_COORDINATOR_ADDRESS={address}" in err
    assert "lower distributed.num_processes" in err
    assert f"waiting for 1 of 2 processes to join at {address} (" in err
    assert "s of 3 s; missing: 1)" in err
    for native in ("Check failure", "SIGABRT", "*** ", "absl::"):
        assert native not in err
    assert not (tmp_path / "out").exists()


def _meet(members: list[tuple[int, int, float]]) -> list[Exception | None]:
    """``rendezvous`` of each (count, process id, timeout) at one address, in threads; each
    member's error or None."""
    address = f"127.0.0.1:{_free_port()}"
    errors: list[Exception | None] = [None] * len(members)

    def member(k: int, count: int, index: int, timeout: float) -> None:
        try:
            rendezvous(address, count, index, timeout)
        except Exception as error:
            errors[k] = error

    threads = [threading.Thread(target=member, args=(k, *m)) for k, m in enumerate(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_every_process_that_joined_learns_who_is_missing_or_misconfigured():
    assert _meet([(3, 2, 10), (3, 0, 10), (3, 1, 10)]) == [None, None, None]
    # Process 2 of 3 never starts: processes 0 and 1 fail alike, once process 0 gives up.
    errors = _meet([(3, 0, 1.5), (3, 1, 20)])
    assert all(isinstance(e, PeersMissingError) for e in errors)
    assert str(errors[0]) == str(errors[1])
    assert "only 2 of 3 processes joined" in str(errors[0])
    assert "(joined: 0, 1; missing: 2); start process 2 with JAX_PROCESS_ID=2" in str(errors[0])
    # Started for different counts: both fail at once with the fix.
    started = time.monotonic()
    errors = _meet([(2, 0, 20), (3, 1, 20)])
    assert time.monotonic() - started < 10
    assert all(isinstance(e, ValueError) for e in errors)
    assert "process 1 (at 127.0.0.1) was started for 3 processes, process 0 for 2" in str(errors[0])
    assert str(errors[0]) == str(errors[1]) and "same JAX_NUM_PROCESSES" in str(errors[1])


def test_process_0_names_a_port_in_use():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ValueError, match=rf"process 0 cannot listen at {address}"):
            rendezvous(address, 2, 0, 5)


def test_process_settings_come_from_the_config_or_the_environment(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    assert process_settings(DistributedConfig()) is None
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    assert process_settings(DistributedConfig()) == ("10.0.0.1:1234", 4, 3)
    assert process_settings(DistributedConfig(process_id=0)) == ("10.0.0.1:1234", 4, 0)
    monkeypatch.delenv("JAX_PROCESS_ID")
    with pytest.raises(ValueError, match=r"distributed\.process_id"):
        process_settings(DistributedConfig())


def test_device_settings_are_checked():
    with pytest.raises(ValueError, match=r"train.devices=2 but only 1 device"):
        placement(2, 16)
    with pytest.raises(ValueError, match=r"train.run_devices=2 but only 1 device"):
        placement(None, 16, 2, 2, (2,))
    assert placement(None, 17).mesh is None  # one device: the single-device path
    assert placement(None, 16, None, 4, (4,)).mesh is None
    for key in ("devices", "run_devices"):
        with pytest.raises(ConfigError, match=rf"train\.{key}"):
            tiny_config(train={key: 0})
    with pytest.raises(ConfigError, match=r"distributed\.process_id"):
        tiny_config(distributed={"num_processes": 2, "process_id": 2})


def test_resume_accepts_another_device_setting(tiny_mnist, tmp_path):
    train(tiny_config(train={"epochs": 1}), tmp_path, quiet=True, data=tiny_mnist)
    config = tiny_config(train={"devices": 1}, distributed={"initialization_timeout": 5})
    summary = train(config, tmp_path, resume=True, quiet=True, data=tiny_mnist)
    assert summary["epochs_completed"] == 2

"""The workloads: the table, their models against their references, and each one trained by the
engine (vmapped over seeds × learning rates, resumed bitwise) on tiny data."""

from __future__ import annotations

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import engine, workloads
from jaxopt_lab.config import ConfigError, config_from_dict, config_to_dict
from jaxopt_lab.data.splits import Dataset, Split
from jaxopt_lab.workloads import layers, mnist1d_cnn, mnist1d_mlp, mnist_cnn, noisy_quadratic
from jaxopt_lab.workloads.base import REFERENCE_METRICS
from tests.synthetic import synthetic_mnist

_ADAM = {"name": "adam", "learning_rate": 1e-3}
WIDTH = {"mnist1d_mlp": 40, "mnist1d_cnn": 40, "noisy_quadratic": 100}


def tiny_data(name: str) -> Dataset:
    """Data shaped as the workload's: MNIST-shaped images, 40-sample signals or 100-D points."""
    if name not in WIDTH:
        return synthetic_mnist(300, 64)
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        x = rng.normal(size=(n, WIDTH[name])).astype(np.float32)
        labels = rng.integers(0, 10, n).astype(np.int32)
        x[np.arange(n), labels] += 3.0  # learnable: the label marks a coordinate
        return Split(x, labels)

    return Dataset(split(300), split(64), split(64), 0, "synthetic")


@pytest.mark.parametrize("name", list(workloads.WORKLOADS))
def test_each_workload_is_complete(name):
    workload = workloads.get(name)
    module = __import__(f"jaxopt_lab.workloads.{name}", fromlist=["WORKLOAD"])
    assert module.WORKLOAD is workload and workload.name == name
    assert "Departures" in module.__doc__ or name == "mnist_mlp"  # says where it departs
    assert workload.reference is not None and workload.reference.metric in REFERENCE_METRICS
    settings = config_from_dict({"workload": {"name": name}, "optimizer": _ADAM}).model
    assert workload.flops_per_sample(settings) > 0
    data = tiny_data(name)
    rows = np.asarray(data.train.images).reshape(len(data.train), -1)[:4]
    model = workload.model(settings)
    params = model.init(jax.random.key(0), jnp.zeros((1, rows.shape[1])))
    out = model.apply(params, jnp.asarray(workload.inputs(rows), jnp.float32))
    assert out.shape == (4, 100 if name == "noisy_quadratic" else 10)
    assert workload.loss(out, jnp.zeros(4, jnp.int32)).shape == (4,)


def test_an_unknown_workload_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown workload 'mnist2d'; use one of mnist_mlp"):
        workloads.get("mnist2d")
    with pytest.raises(ConfigError, match=r"workload\.name: unknown workload"):
        config_from_dict({"workload": {"name": "mnist2d"}, "optimizer": _ADAM})


def test_a_workload_gives_its_defaults_and_the_default_workload_is_left_out():
    cnn = config_from_dict({"workload": {"name": "mnist_cnn"}, "optimizer": _ADAM})
    assert (cnn.train.batch_size, cnn.train.epochs) == (128, 10)
    assert config_to_dict(cnn)["workload"] == {"name": "mnist_cnn"}
    quadratic = config_from_dict({"workload": {"name": "noisy_quadratic"}, "optimizer": _ADAM})
    assert quadratic.train.last_batch == "drop"
    mine = config_from_dict(
        {"workload": {"name": "mnist_cnn"}, "optimizer": _ADAM, "train": {"epochs": 2}}
    )
    assert (mine.train.batch_size, mine.train.epochs) == (128, 2)
    default = config_from_dict({"optimizer": _ADAM})
    assert "workload" not in config_to_dict(default)  # configs written before workloads
    assert config_from_dict(config_to_dict(cnn)) == cnn


def test_settings_a_workload_cannot_honour_are_errors():
    with pytest.raises(ConfigError, match="model: workload mnist_cnn has a fixed model"):
        config_from_dict(
            {"workload": {"name": "mnist_cnn"}, "optimizer": _ADAM, "model": {"hidden_sizes": [64]}}
        )
    with pytest.raises(ConfigError, match=r"data\.split_seed: workload noisy_quadratic makes its"):
        config_from_dict(
            {"workload": {"name": "noisy_quadratic"}, "optimizer": _ADAM, "data": {"split_seed": 3}}
        )


# --------------------------------------------------------------------------- the models


def test_patch_conv_is_flax_conv():
    x = jax.random.normal(jax.random.key(1), (3, 28, 28, 2))
    conv = layers.PatchConv(8)
    params = conv.init(jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(
        jnp.shape, nn.Conv(8, (3, 3)).init(jax.random.key(0), x)
    )
    np.testing.assert_allclose(
        conv.apply(params, x), nn.Conv(8, (3, 3)).apply(params, x), atol=1e-5
    )


def test_patch_conv_1d_and_the_mnist1d_models_are_torchs():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(5, 40)).astype(np.float32)
    conv = layers.PatchConv1D(25, 5, stride=2, padding=1)
    params = conv.init(jax.random.key(0), x[:, :, None])
    reference = torch.nn.Conv1d(1, 25, 5, stride=2, padding=1)
    with torch.no_grad():  # torch's weight is (out, in, k), ours (k, in, out)
        reference.weight.copy_(
            torch.from_numpy(np.array(params["params"]["kernel"]).transpose(2, 1, 0))
        )
        reference.bias.copy_(torch.from_numpy(np.array(params["params"]["bias"])))
        expected = reference(torch.from_numpy(x)[:, None, :]).numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(conv.apply(params, x[:, :, None]), expected, atol=1e-5)
    bound = 1 / np.sqrt(5)  # torch's default: U(±1/√(in·k))
    kernel = np.asarray(params["params"]["kernel"])
    assert kernel.max() <= bound and kernel.min() >= -bound and kernel.std() > bound / 3

    model = mnist1d_mlp.ResidualMLP()
    params = model.init(jax.random.key(0), x)["params"]
    layers_ = [torch.nn.Linear(40, 100), torch.nn.Linear(100, 100), torch.nn.Linear(100, 10)]
    with torch.no_grad():
        for layer, name in zip(layers_, ("Dense_0", "Dense_1", "Dense_2"), strict=True):
            layer.weight.copy_(torch.from_numpy(np.array(params[name]["kernel"]).T))
            layer.bias.copy_(torch.from_numpy(np.array(params[name]["bias"])))
        h = layers_[0](torch.from_numpy(x)).relu()  # the paper's MLPBase
        expected = layers_[2](h + layers_[1](h).relu()).numpy()
    np.testing.assert_allclose(model.apply({"params": params}, x), expected, atol=1e-5)
    counts = sum(
        p.size for p in jax.tree.leaves(mnist1d_cnn.ConvNet1D().init(jax.random.key(0), x))
    )
    assert counts == 5_210  # the paper's ConvBase


def test_the_mnist_cnn_has_flaxs_layers_and_muon_can_take_its_kernels():
    from jaxopt_lab.optimizers.muon import muon

    params = mnist_cnn.CNN().init(jax.random.key(0), jnp.zeros((1, 784)))
    shapes = {k: v["kernel"].shape for k, v in params["params"].items()}
    assert shapes == {
        "PatchConv_0": (3, 3, 1, 32),
        "PatchConv_1": (3, 3, 32, 64),
        "Dense_0": (3136, 256),
        "Dense_1": (256, 10),
    }
    grads = jax.tree.map(
        lambda p: jnp.cos(jnp.arange(p.size, dtype=p.dtype).reshape(p.shape)), params
    )
    # By default the 4-D kernels go to Muon's AdamW part: its first step is −η·sign(g).
    opt = muon(learning_rate=0.02)
    updates, _ = opt.update(grads, opt.init(params), params)
    kernel = updates["params"]["PatchConv_1"]["kernel"]
    np.testing.assert_allclose(
        kernel, -0.02 * jnp.sign(grads["params"]["PatchConv_1"]["kernel"]), rtol=1e-3
    )
    # Given to Muon, a kernel is the (3·3·in) × out matrix, orthogonalised as a Dense kernel.
    everything = muon(
        learning_rate=0.02, muon_mask=lambda p: jax.tree.map(lambda a: a.ndim >= 2, p)
    )
    as_matrix = {"k": grads["params"]["PatchConv_1"]["kernel"].reshape(288, 64)}
    dense = muon(learning_rate=0.02)
    expected, _ = dense.update(as_matrix, dense.init(as_matrix), as_matrix)
    updates, _ = everything.update(grads, everything.init(params), params)
    np.testing.assert_allclose(
        updates["params"]["PatchConv_1"]["kernel"].reshape(288, 64),
        expected["k"],
        rtol=1e-5,
        atol=1e-7,
    )


def test_the_noisy_quadratic_is_deepobss():
    q = noisy_quadratic.hessian()
    spectrum = np.linalg.eigvalsh(q)
    np.testing.assert_allclose(q, q.T, atol=1e-12)
    assert (spectrum[:90] > 0).all() and (spectrum[:90] < 1).all()
    assert (spectrum[90:] > 30).all() and (spectrum[90:] < 60).all()
    rng = np.random.RandomState(42)  # the same draws, in DeepOBS's order
    drawn = np.sort(np.concatenate([rng.uniform(0, 1, 90), rng.uniform(30, 60, 10)]))
    np.testing.assert_allclose(spectrum, drawn, rtol=1e-9, atol=1e-12)
    data = noisy_quadratic.load(None)
    assert data.train.images.shape == (1000, 100) and abs(data.train.images.std() - 0.6) < 0.01
    assert not np.array_equal(data.train.images, data.test.images)
    x = jnp.asarray(data.train.images[:8])
    at_points = noisy_quadratic.loss(
        noisy_quadratic.Quadratic().apply({"params": {"theta": x[0]}}, x[:1]), None
    )
    assert float(at_points[0]) == 0.0
    best = noisy_quadratic.optimum(data)
    assert best["train_loss"] < 89 < 353  # below 0.18·tr Q; the start (θ = 1) is at ≈ 353


# --------------------------------------------------------------------------- in the engine


def _config(name: str, **train):
    return config_from_dict(
        {
            "workload": {"name": name},
            "optimizer": {"name": "adam", "learning_rate": [1e-3, 1e-2]},
            "train": {"epochs": 2, "batch_size": 32, "seeds": [0, 1], **train},
        }
    )


def _records(path):
    lines = (path / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


@pytest.mark.parametrize("name", [n for n in workloads.WORKLOADS if n != "mnist_mlp"])
def test_each_workload_trains_vmapped_and_resumes_bitwise(name, tmp_path):
    data = tiny_data(name)
    whole = engine.train(_config(name), tmp_path / "whole", quiet=True, data=data)
    assert len(whole["runs"]) == 4  # 2 seeds × 2 learning rates, one program
    engine.train(_config(name, epochs=1), tmp_path / "parts", quiet=True, data=data)
    resumed = engine.train(_config(name), tmp_path / "parts", resume=True, quiet=True, data=data)
    assert resumed["runs"] == whole["runs"]
    assert _records(tmp_path / "parts") == _records(tmp_path / "whole")
    first, last = (
        np.mean([r["train_loss"] for r in _records(tmp_path / "whole") if r["epoch"] == e])
        for e in (1, 2)
    )
    assert last < first  # it learns
    if workloads.get(name).has_accuracy:
        assert all(r["test_accuracy"] is not None for r in whole["runs"])
    else:
        assert all(r["test_accuracy"] is None and r["test_loss"] > 0 for r in whole["runs"])


def test_configs_of_two_workloads_do_not_train_together(tmp_path):
    with pytest.raises(ValueError, match="differ in 'workload'"):
        engine.train_many(
            {"a": _config("mnist_cnn"), "b": _config("mnist_logreg")},
            tmp_path,
            quiet=True,
            data=synthetic_mnist(300, 64),
        )


SHARDED = """
import json, sys
import numpy as np
from jaxopt_lab import engine
from jaxopt_lab.config import config_from_dict
from jaxopt_lab.data.splits import Dataset, Split

out = {}
for name, width in (("mnist1d_cnn", 40), ("noisy_quadratic", 100)):
    rng = np.random.default_rng(0)
    def split(n):
        x = rng.normal(size=(n, width)).astype(np.float32)
        return Split(x, rng.integers(0, 10, n).astype(np.int32))
    data = Dataset(split(256), split(64), split(64), 0, "synthetic")
    for devices, runs in ((1, 1), (2, 1), (2, 2)):
        config = config_from_dict({
            "workload": {"name": name},
            "optimizer": {"name": "adam", "learning_rate": [1e-3, 1e-2]},
            "train": {"epochs": 2, "batch_size": 32, "seeds": [0, 1], "devices": devices,
                      "run_devices": runs},
        })
        where = f"{sys.argv[1]}/{name}-{devices}-{runs}"
        summary = engine.train(config, where, quiet=True, data=data)
        out[f"{name} {devices} {runs}"] = {
            "device": summary["device"],
            "finals": {r["run"]: [r["final"]["train_loss"], r["final"]["val_loss"], r["test_loss"]]
                       for r in summary["runs"]},
        }
print(json.dumps(out))
"""


def test_workloads_train_sharded_over_devices_as_on_one(tmp_path):
    """Over 2 devices, the batch split (runs 1 × data 2) or the seeds (runs 2 × data 1): the
    single-device metrics to float32 rounding, for a CNN and for the quadratic's own loss."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    done = subprocess.run(
        [sys.executable, "-c", SHARDED, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("mnist1d_cnn", "noisy_quadratic"):
        one = result[f"{name} 1 1"]["finals"]
        assert result[f"{name} 2 1"]["device"] == "cpu × 2"  # runs 1 × data 2: the batch split
        assert result[f"{name} 2 2"]["device"] == "cpu × 2 (runs 2 × data 1, by seed)"
        for layout in ("2 1", "2 2"):
            finals = result[f"{name} {layout}"]["finals"]
            assert finals.keys() == one.keys()
            for run, values in one.items():
                np.testing.assert_allclose(finals[run], values, rtol=2e-5, atol=1e-6, err_msg=run)


def test_a_split_evaluated_in_chunks_gives_the_whole_splits_metrics():
    import dataclasses

    import optax

    from jaxopt_lab.engine.loop import RunSetSpec, eval_chunk, evaluate_runs

    assert [eval_chunk(10_000, 1_000), eval_chunk(64, 1_000), eval_chunk(60, 16)] == [1000, 64, 15]
    assert eval_chunk(60, None) == 60
    data = synthetic_mnist(64, 60)
    whole = workloads.get("mnist_cnn")
    params = whole.model(None).init(jax.random.key(0), jnp.zeros((1, 784)))
    runs = jax.tree.map(lambda a: a[None, None], params)  # [S = 1, L = 1]
    states = jax.tree.map(lambda a: a[None, None], optax.sgd(0.1).init(params))
    x = jnp.asarray(whole.inputs(data.val.images.reshape(60, -1)))
    y = jnp.asarray(data.val.labels, jnp.int32)
    results = [
        evaluate_runs(
            RunSetSpec(
                model=whole.model(None),
                transforms=(),
                n_train=64,
                batch_size=32,
                workload=dataclasses.replace(whole, eval_batch=most),
            ),
            runs,
            states,
            x,
            y,
        )
        for most in (None, 16)
    ]
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_array_equal(results[0][1], results[1][1])

"""The compiled epoch: data order, batching over runs, and divergence masking."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.config import ModelConfig, OptimizerConfig
from jaxopt_lab.data.splits import normalize
from jaxopt_lab.engine.loop import (
    RunSetSpec,
    compile_init,
    epoch_order,
    epoch_orders,
    make_epoch,
)
from jaxopt_lab.engine.step import train_step
from jaxopt_lab.engine.transform import make_transform
from jaxopt_lab.model import make_model
from tests.synthetic import synthetic_split

TRAIN, VAL = synthetic_split(300, 1), synthetic_split(64, 2)
STEPS = 10 * 2  # 10 batches of 32 (the last partial) × 2 epochs
DATA = (
    jnp.asarray(TRAIN.images.reshape(300, 784)),
    jnp.asarray(TRAIN.labels, jnp.int32),
    jnp.asarray(VAL.images.reshape(64, 784)),
    jnp.asarray(VAL.labels, jnp.int32),
)


@functools.cache
def _spec(name="adam", last_batch="mask", optimizers=None):
    """One spec per argument set, so that tests share its compiled programs."""
    names = optimizers or (name,)
    return RunSetSpec(
        model=make_model(ModelConfig(hidden_sizes=[32])),
        transforms=tuple(make_transform(OptimizerConfig(n, 1e-3), STEPS) for n in names),
        n_train=300,
        batch_size=32,
        last_batch=last_batch,
    )


_COMPILED = {}


def compute_initial_states(spec, seeds, rates):
    """The initial states as the engine computes them: by ``compile_init``'s program."""
    return compile_init(spec, seeds, rates)(seeds, rates)


def _run(spec, seeds, rates, epochs=2):
    """Train ``epochs`` epochs; return the final states and each epoch's metrics."""
    seeds = jnp.asarray(seeds, jnp.int32)
    rates = tuple(jnp.asarray(r, jnp.float32) for r in rates)
    # One jitted program per spec, so runs of the same shape compile once.
    epoch_fn = _COMPILED.setdefault(id(spec), jax.jit(make_epoch(spec)))
    states = compute_initial_states(spec, seeds, rates)
    history = []
    for epoch in range(1, epochs + 1):
        order = epoch_orders(spec, [int(s) for s in seeds], epoch)
        states, metrics = epoch_fn(states, jnp.int32(epoch), order, rates, *DATA)
        history.append(jax.device_get(metrics))
    return states, history


@pytest.mark.parametrize("last_batch, steps, weight", [("mask", 10, 300), ("drop", 9, 288)])
def test_epoch_order_visits_each_sample_once_and_weights_the_partial_batch(
    last_batch, steps, weight
):
    spec = _spec(last_batch=last_batch)
    indices, weights = epoch_order(spec, 0, 1)
    assert indices.shape == weights.shape == (steps, 32)
    assert float(weights.sum()) == weight == spec.samples_per_epoch
    real = np.asarray(indices)[np.asarray(weights) > 0]
    assert len(set(real.tolist())) == len(real)  # no sample twice
    if last_batch == "mask":
        assert sorted(real.tolist()) == list(range(300))
        assert float(weights[-1].sum()) == 300 - 9 * 32


def test_order_depends_on_seed_and_epoch_only():
    spec = _spec()
    first = epoch_order(spec, 0, 1)[0]
    assert np.array_equal(first, epoch_order(spec, 0, 1)[0])
    assert not np.array_equal(first, epoch_order(spec, 0, 2)[0])
    assert not np.array_equal(first, epoch_order(spec, 1, 1)[0])


def test_epoch_program_equals_a_python_loop_of_steps():
    spec = _spec()
    states, history = _run(spec, [3], [[2e-3]], epochs=1)
    # The same epoch step by step, outside the scan and the vmaps.
    start = compute_initial_states(spec, jnp.asarray([3], jnp.int32), (jnp.asarray([2e-3]),))[0]
    params = jax.tree.map(lambda a: a[0, 0], start.params)
    tx = spec.transforms[0](jnp.float32(2e-3))
    opt_state = tx.init(params)
    step = jax.jit(lambda p, s, x, y, w: train_step(spec.model.apply, tx, p, s, x, y, w))
    total = 0.0
    indices, weights = epoch_order(spec, 3, 1)
    for idx, w in zip(indices, weights, strict=True):
        x = normalize(DATA[0][idx])
        params, opt_state, loss_sum = step(params, opt_state, x, DATA[1][idx], w)
        total += float(loss_sum)
    scanned = jax.tree.map(lambda a: a[0, 0], states[0].params)
    for a, b in zip(jax.tree.leaves(scanned), jax.tree.leaves(params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)
    assert float(history[0][0]["train_loss"][0, 0]) == pytest.approx(total / 300, rel=1e-5)


def test_vmapped_runs_equal_the_same_runs_one_by_one():
    spec = _spec()
    seeds, rates = [0, 1], [1e-3, 3e-3]
    # Batched and single matmuls sum in different orders: equal to float32 rounding, not bitwise.
    states, history = _run(spec, seeds, [rates])
    for s, seed in enumerate(seeds):
        for r, rate in enumerate(rates):
            alone, alone_history = _run(spec, [seed], [[rate]])
            for epoch in range(2):
                for name in ("train_loss", "val_loss", "val_accuracy"):
                    together = history[epoch][0][name][s, r]
                    single = alone_history[epoch][0][name][0, 0]
                    np.testing.assert_allclose(together, single, rtol=1e-5, err_msg=name)
            for a, b in zip(
                jax.tree.leaves(states[0].params), jax.tree.leaves(alone[0].params), strict=True
            ):
                np.testing.assert_allclose(a[s, r], b[0, 0], rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU's layout of the products")
def test_a_group_of_learning_rates_trains_without_transposing_its_kernels():
    """The runs of a group share each batch, but each is handed it as its own, so the products
    are matmuls batched over the runs that read the carried ``[L, 784, 32]`` kernel. Shared,
    XLA:CPU made x·W one ``[B, 784]·[784, L·32]`` matmul and transposed the kernel (and its
    gradient back) at every step."""
    spec = _spec()
    seeds, rates = jnp.asarray([0], jnp.int32), (jnp.asarray([1e-3, 2e-3, 3e-3]),)
    states = compute_initial_states(spec, seeds, rates)
    order = epoch_orders(spec, [0], 1)
    compiled = jax.jit(make_epoch(spec)).lower(states, jnp.int32(1), order, rates, *DATA)
    text = compiled.compile().as_text()
    kernel = re.compile(r"= f32\[3,(784,32|32,784)\]\S* transpose\(")
    assert " dot(" in text
    assert [line.strip() for line in text.splitlines() if kernel.search(line)] == []


def test_runs_with_the_same_seed_start_from_the_same_parameters():
    spec = _spec()
    states = compute_initial_states(
        spec, jnp.asarray([0, 1], jnp.int32), (jnp.asarray([1e-3, 1e-2]),)
    )
    kernel = np.asarray(states[0].params["params"]["Dense_0"]["kernel"])
    assert np.array_equal(kernel[0, 0], kernel[0, 1])
    assert not np.array_equal(kernel[0, 0], kernel[1, 0])


def test_a_diverging_run_is_frozen_and_leaves_the_others_untouched():
    spec = _spec(name="sgd")
    states, history = _run(spec, [0], [[1e-2, 1e8]])
    _, alone_history = _run(spec, [0], [[1e-2]])
    assert np.asarray(states[0].diverged).tolist() == [[False, True]]
    assert np.asarray(states[0].diverged_epoch).tolist() == [[0, 1]]
    # Frozen at the start of the epoch it diverged in: the initial, finite parameters.
    initial = compute_initial_states(spec, jnp.asarray([0], jnp.int32), (jnp.asarray([1e8]),))[0]
    for a, b in zip(
        jax.tree.leaves(states[0].params), jax.tree.leaves(initial.params), strict=True
    ):
        np.testing.assert_array_equal(a[0, 1], b[0, 0])
    for epoch in range(2):
        np.testing.assert_allclose(
            history[epoch][0]["val_loss"][0, 0],
            alone_history[epoch][0]["val_loss"][0, 0],
            rtol=1e-6,
        )


def test_several_optimizers_in_one_program_equal_separate_programs():
    _, history = _run(_spec(optimizers=("sgd", "adam")), [0], [[1e-2], [1e-3]], epochs=1)
    for g, (name, rate) in enumerate([("sgd", 1e-2), ("adam", 1e-3)]):
        _, alone = _run(_spec(name=name), [0], [[rate]], epochs=1)
        np.testing.assert_allclose(
            history[0][g]["train_loss"], alone[0][0]["train_loss"], rtol=1e-6
        )


def test_spec_rejects_an_epoch_without_a_full_batch():
    with pytest.raises(ValueError, match="no full batch"):
        RunSetSpec(
            model=make_model(ModelConfig()),
            transforms=(),
            n_train=20,
            batch_size=32,
            last_batch="drop",
        )

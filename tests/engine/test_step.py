"""The engine's step against a hand-written NumPy forward/backward pass and update rules."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab.config import ModelConfig
from jaxopt_lab.engine.step import batch_loss, evaluate, normalize_pixels, train_step
from jaxopt_lab.model import init_params, make_model

MODEL = make_model(ModelConfig(hidden_sizes=[16]))


def _batch(seed, n=8, padding=3):
    rng = np.random.default_rng(seed)
    x = normalize_pixels(jnp.asarray(rng.integers(0, 256, (n, 784), dtype=np.uint8)))
    y = jnp.asarray(rng.integers(0, 10, n), jnp.int32)
    w = jnp.asarray([1.0] * (n - padding) + [0.0] * padding, jnp.float32)
    return x, y, w


def reference_loss_and_grads(p, x, y, w):
    """Forward and backward pass of the 784-16-10 ReLU MLP by hand, in float64."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    w1, b1 = (np.asarray(p["Dense_0"][k], np.float64) for k in ("kernel", "bias"))
    w2, b2 = (np.asarray(p["Dense_1"][k], np.float64) for k in ("kernel", "bias"))
    a = x @ w1 + b1
    h = np.maximum(a, 0)
    z = h @ w2 + b2
    z = z - z.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = np.sum(w * -np.log(probs[rows, np.asarray(y)])) / w.sum()
    dz = probs.copy()
    dz[rows, np.asarray(y)] -= 1
    dz *= (w / w.sum())[:, None]
    dh = (dz @ w2.T) * (a > 0)
    grads = {
        "Dense_0": {"kernel": x.T @ dh, "bias": dh.sum(0)},
        "Dense_1": {"kernel": h.T @ dz, "bias": dz.sum(0)},
    }
    return loss, grads


def _assert_tree_close(actual, expected, rtol=2e-5, atol=1e-6):
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a, np.float64), e, rtol=rtol, atol=atol)


def test_loss_and_gradient_match_hand_written_backprop_with_padding_weights():
    params = init_params(MODEL, jax.random.key(0))
    x, y, w = _batch(0)
    loss, grads = jax.value_and_grad(batch_loss, argnums=1)(MODEL.apply, params, x, y, w)
    ref_loss, ref_grads = reference_loss_and_grads(params["params"], x, y, w)
    assert float(loss) == pytest.approx(ref_loss, rel=1e-5)
    _assert_tree_close(grads["params"], ref_grads)


def test_sgd_step_matches_reference_and_returns_the_batch_loss_sum():
    params = init_params(MODEL, jax.random.key(1))
    x, y, w = _batch(1)
    tx = jol.sgd(0.1)
    new, _, loss_sum = train_step(MODEL.apply, tx, params, tx.init(params), x, y, w)
    ref_loss, ref_grads = reference_loss_and_grads(params["params"], x, y, w)
    expected = jax.tree.map(
        lambda p, g: np.asarray(p, np.float64) - 0.1 * g, params["params"], ref_grads
    )
    _assert_tree_close(new["params"], expected)
    assert float(loss_sum) == pytest.approx(ref_loss * 5, rel=1e-5)  # 5 real samples


def test_two_adam_steps_match_the_hand_written_rule():
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    params = init_params(MODEL, jax.random.key(2))
    tx = optax.inject_hyperparams(jol.adam)(learning_rate=lr)
    state = tx.init(params)
    ref = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    m = jax.tree.map(np.zeros_like, ref)
    v = jax.tree.map(np.zeros_like, ref)
    for t in (1, 2):
        x, y, w = _batch(10 + t)
        params, state, _ = train_step(MODEL.apply, tx, params, state, x, y, w)
        _, g = reference_loss_and_grads(ref, x, y, w)
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        c1, c2 = 1 - b1**t, 1 - b2**t
        ref = jax.tree.map(
            lambda p, m, v, c1=c1, c2=c2: p - lr * (m / c1) / (np.sqrt(v / c2) + eps), ref, m, v
        )
    _assert_tree_close(params["params"], ref, rtol=1e-4, atol=1e-6)


def test_evaluate_gives_mean_cross_entropy_and_accuracy():
    params = init_params(MODEL, jax.random.key(3))
    x, y, _ = _batch(3, n=16, padding=0)
    loss, accuracy = evaluate(MODEL.apply, params, x, y)
    ref_loss, _ = reference_loss_and_grads(params["params"], x, y, np.ones(16))
    logits = np.asarray(MODEL.apply(params, x))
    assert float(loss) == pytest.approx(ref_loss, rel=1e-5)
    assert float(accuracy) == pytest.approx(np.mean(logits.argmax(1) == np.asarray(y)))


def test_normalize_pixels_maps_0_and_255_to_minus_one_and_one():
    out = normalize_pixels(jnp.asarray([0, 255], jnp.uint8))
    np.testing.assert_array_equal(np.asarray(out), [-1.0, 1.0])

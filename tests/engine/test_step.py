"""The engine's step against a hand-written NumPy forward/backward pass and the update rules of
``tests/reference.py``."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab.config import ModelConfig
from jaxopt_lab.data.splits import normalize
from jaxopt_lab.engine.step import batch_loss, evaluate, train_step
from jaxopt_lab.model import init_params, make_model
from tests.reference import reference_adam

MODEL = make_model(ModelConfig(hidden_sizes=[16]))


def _batch(seed, n=8, padding=3):
    rng = np.random.default_rng(seed)
    x = normalize(jnp.asarray(rng.integers(0, 256, (n, 784), dtype=np.uint8)))
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


def _flat(tree):
    """A float64 pytree as one vector, and the function that restores the tree."""
    leaves, treedef = jax.tree.flatten(tree)
    sizes = np.cumsum([leaf.size for leaf in leaves])[:-1]

    def unflatten(vector):
        parts = np.split(vector, sizes)
        return treedef.unflatten([p.reshape(a.shape) for p, a in zip(parts, leaves, strict=True)])

    return np.concatenate([np.ravel(leaf) for leaf in leaves]), unflatten


def test_two_adam_steps_match_the_reference_rule():
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    params = init_params(MODEL, jax.random.key(2))
    tx = optax.inject_hyperparams(jol.adam)(learning_rate=lr)
    state = tx.init(params)
    batches = [_batch(10 + t) for t in (1, 2)]
    theta, unflatten = _flat(jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"]))
    steps = iter(batches)

    def grad(theta):  # the reference's ∇L(θ) on the batch of its next step
        x, y, w = next(steps)
        return _flat(reference_loss_and_grads(unflatten(theta), x, y, w)[1])[0]

    path = reference_adam(grad, theta, 2, learning_rate=lr, b1=b1, b2=b2, eps=eps)
    for x, y, w in batches:
        params, state, _ = train_step(MODEL.apply, tx, params, state, x, y, w)
    _assert_tree_close(params["params"], unflatten(path[-1]), rtol=1e-4, atol=1e-6)


def test_evaluate_gives_mean_cross_entropy_and_accuracy():
    params = init_params(MODEL, jax.random.key(3))
    x, y, _ = _batch(3, n=16, padding=0)
    loss, accuracy = evaluate(MODEL.apply, params, x, y)
    ref_loss, _ = reference_loss_and_grads(params["params"], x, y, np.ones(16))
    logits = np.asarray(MODEL.apply(params, x))
    assert float(loss) == pytest.approx(ref_loss, rel=1e-5)
    assert float(accuracy) == pytest.approx(np.mean(logits.argmax(1) == np.asarray(y)))


def test_normalize_maps_0_and_255_to_minus_one_and_one():
    out = normalize(jnp.asarray([0, 255], jnp.uint8))
    np.testing.assert_array_equal(np.asarray(out), [-1.0, 1.0])


def test_normalize_on_numpy_and_jax_arrays_agrees_to_float32_rounding():
    # The engine normalises training batches in JAX and the evaluation splits in NumPy.
    pixels = np.arange(256, dtype=np.uint8)
    on_host, on_device = normalize(pixels), jax.jit(normalize)(jnp.asarray(pixels))
    assert on_host.dtype == on_device.dtype == np.float32
    eps = np.finfo(np.float32).eps  # 1.2e-7: one rounding of p/255, doubled
    np.testing.assert_allclose(on_host, np.asarray(on_device), rtol=0, atol=eps)

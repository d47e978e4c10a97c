"""Every jaxopt_lab optimizer drives Flax NNX's ``nnx.Optimizer`` and takes the same steps there
as in the functional path (``tx.init`` / ``tx.update`` / ``optax.apply_updates``) the engine uses.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxopt_lab as jol


class MLP(nnx.Module):
    """The engine's MLP shape (784 → hidden → 10, ReLU) as an NNX module."""

    def __init__(self, hidden: int, *, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(784, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.relu(self.hidden(x)))


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def _batch():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(16, 784)), jnp.float32)
    return x, jnp.asarray(rng.integers(0, 10, 16), jnp.int32)


@pytest.mark.parametrize("name", list(jol.OPTIMIZERS))
def test_nnx_optimizer_takes_the_functional_steps(name):
    x, y = _batch()
    rate = 0.5 if name == "adadelta" else 0.01

    model = MLP(16, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, jol.get_optimizer(name, learning_rate=rate), wrt=nnx.Param)

    @nnx.jit
    def nnx_step(model, optimizer, x, y):
        grads = nnx.grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)

    graphdef, params = nnx.split(MLP(16, rngs=nnx.Rngs(0)))
    tx = jol.get_optimizer(name, learning_rate=rate)
    state = tx.init(params)

    @jax.jit
    def functional_step(params, state, x, y):
        grads = jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), x, y))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    start = jax.tree.leaves(nnx.state(model, nnx.Param))[0].copy()
    for _ in range(3):
        nnx_step(model, optimizer, x, y)
        params, state = functional_step(params, state, x, y)
    trained = nnx.state(model, nnx.Param)
    for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not np.allclose(jax.tree.leaves(trained)[0], start)  # it moved

"""Landscapes: the test functions and the vmapped trajectories."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.studies import landscapes


@pytest.mark.parametrize("name", list(landscapes.FUNCTIONS))
def test_each_function_has_its_stated_minimum(name):
    tf = landscapes.FUNCTIONS[name]
    x = jnp.asarray(tf.minimum, jnp.float32)
    assert float(tf.fn(x)) == pytest.approx(tf.f_min, abs=1e-6)
    assert np.allclose(np.asarray(jax.grad(tf.fn)(x)), 0.0, atol=1e-5)


def test_trajectories_match_a_hand_written_gradient_descent():
    # SGD on f = ½(x² + 25 y²): x ← (1 − η) x, y ← (1 − 25η) y, for every η of the grid at once
    lrs = [0.01, 0.03]
    paths = landscapes.trajectories("sgd", landscapes.quadratic, (-4.0, 1.5), lrs, 10)
    assert paths.shape == (2, 11, 2)
    for i, lr in enumerate(lrs):
        k = np.arange(11)
        expect = np.stack([-4.0 * (1 - lr) ** k, 1.5 * (1 - 25 * lr) ** k], axis=1)
        np.testing.assert_allclose(paths[i], expect, rtol=1e-5, atol=1e-6)


def test_diverging_rates_score_infinite_and_are_never_chosen():
    vals = landscapes.path_values(
        landscapes.quadratic,
        landscapes.trajectories("sgd", landscapes.quadratic, (-4.0, 1.5), [0.01, 1.0], 200),
    )
    scores = landscapes.score(vals, 0.0)
    assert np.isfinite(scores[0]) and scores[1] == np.inf  # |1 − 25| > 1 blows up


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown optimizer"):
        landscapes.trajectories("adabelief", landscapes.quadratic, (0.0, 0.0), [0.1], 3)
    with pytest.raises(ValueError, match="unknown test functions"):
        landscapes.run({"functions": ["himmelblau"]})

"""Second-order methods: curvature products against dense matrices, CG, every method's step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.studies import second_order as so


@pytest.fixture(scope="module")
def problem(tiny_mnist):
    return so.Problem(tiny_mnist, hidden=2, n_train=64, n_val=32, seed=0)


def test_param_count_matches_the_model(problem):
    assert problem.size == so.param_count(2) == 1600
    assert so.hessian_bytes(101_770) == 4 * 101_770**2


def test_ggn_vector_product_equals_dense_jt_h_j(problem):
    theta = problem.theta0
    jac = jax.jacfwd(lambda t: problem.logits(t, problem.x))(theta)  # [N, 10, P]
    p = jax.nn.softmax(problem.logits(theta, problem.x))
    hz = jax.vmap(lambda q: jnp.diag(q) - jnp.outer(q, q))(p) / p.shape[0]  # [N, 10, 10]
    g = jnp.einsum("nap,nab,nbq->pq", jac, hz, jac)
    v = jax.random.normal(jax.random.key(1), theta.shape)
    np.testing.assert_allclose(problem.ggn_vp(theta, v), g @ v, rtol=2e-3, atol=1e-6)


def test_conjugate_gradient_solves_an_spd_system():
    a = jax.random.normal(jax.random.key(0), (20, 20))
    a = a @ a.T + 20 * jnp.eye(20)
    b = jnp.arange(20.0)
    x = so.conjugate_gradient(lambda v: a @ v, b, 40)
    np.testing.assert_allclose(a @ x, b, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("method", so.METHODS)
def test_every_method_lowers_the_loss(problem, method):
    cfg = {
        "steps": dict.fromkeys(so.METHODS, 4),
        "damping": 0.1,
        "cg_iters": 5,
        "adam_learning_rate": 1e-2,
    }
    res = so.train(problem, method, cfg)
    assert len(res["losses"]) == 5 and len(res["seconds"]) == 5
    assert res["losses"][-1] < res["losses"][0]
    assert res["memory_bytes"] > 0 and res["median_step_seconds"] > 0


def test_newton_memory_grows_with_the_hessian(tiny_mnist):
    small = so.Problem(tiny_mnist, 1, 32, 32, 0)
    cfg = {"steps": dict.fromkeys(so.METHODS, 1), "damping": 1.0}
    mem1 = so.train(small, "newton", cfg)["memory_bytes"]
    mem2 = so.train(so.Problem(tiny_mnist, 2, 32, 32, 0), "newton", cfg)["memory_bytes"]
    assert mem1 >= so.hessian_bytes(small.size) and mem2 > 3 * mem1

"""A small non-quadratic problem shared by the optimizer tests, in NumPy and as a pytree."""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng(0)
A = _rng.normal(size=(5, 6))
B = _rng.normal(size=5)
THETA0 = _rng.normal(size=6)


def loss(theta: np.ndarray) -> float:
    """L(θ) = Σ log cosh(Aθ − b) + 0.05 Σ θ⁴: smooth, convex, not quadratic."""
    return float(np.sum(np.log(np.cosh(A @ theta - B))) + 0.05 * np.sum(theta**4))


def grad(theta: np.ndarray) -> np.ndarray:
    """∇L(θ) = Aᵀ tanh(Aθ − b) + 0.2 θ³."""
    return A.T @ np.tanh(A @ theta - B) + 0.2 * theta**3


def to_tree(theta: np.ndarray) -> dict:
    """θ as a two-leaf pytree, so the optimizers are exercised on more than one array."""
    return {"w": theta[:4].reshape(2, 2), "b": theta[4:]}


def from_tree(tree: dict) -> np.ndarray:
    return np.concatenate([np.asarray(tree["w"]).reshape(-1), np.asarray(tree["b"])])

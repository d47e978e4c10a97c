"""The update rules of the optimizer table, written literally in NumPy.

Each ``reference_<name>(grad, theta, steps, learning_rate, **hyperparameters)`` runs ``steps``
updates from ``theta`` and returns the parameter trajectory ``[θ₀, θ₁, …]``. ``grad`` maps θ to
∇L(θ); ``learning_rate`` is a number or a function of the 0-based step. Nothing here is shared
with the library: a change of formula there must be made here too, on purpose.
"""

from __future__ import annotations

import numpy as np


def _eta(learning_rate, step):
    return learning_rate(step) if callable(learning_rate) else learning_rate


def reference_sgd(grad, theta, steps, learning_rate):
    path = [theta]
    for step in range(steps):
        theta = theta - _eta(learning_rate, step) * grad(theta)
        path.append(theta)
    return path


def reference_momentum(grad, theta, steps, learning_rate, momentum=0.9):
    v = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        v = momentum * v + _eta(learning_rate, step) * grad(theta)
        theta = theta - v
        path.append(theta)
    return path


def reference_nesterov(grad, theta, steps, learning_rate, momentum=0.9):
    """The slides' look-ahead rule on θ; returns the look-ahead points φ = θ − γ v.

    The library stores φ as its parameters (see ``jaxopt_lab/optimizers/nesterov.py``).
    """
    v = np.zeros_like(theta)
    path = [theta - momentum * v]
    for step in range(steps):
        v = momentum * v + _eta(learning_rate, step) * grad(theta - momentum * v)
        theta = theta - v
        path.append(theta - momentum * v)
    return path


def reference_adagrad(grad, theta, steps, learning_rate, eps=1e-8, initial_accumulator_value=0.0):
    big_g = np.full_like(theta, initial_accumulator_value)
    path = [theta]
    for step in range(steps):
        g = grad(theta)
        big_g = big_g + g**2
        theta = theta - _eta(learning_rate, step) * g / (np.sqrt(big_g) + eps)
        path.append(theta)
    return path


def _adam_path(grad, theta, steps, learning_rate, b1, b2, eps, direction, weight_decay=0.0):
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        t = step + 1
        g = grad(theta)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_hat = v / (1 - b2**t)
        update = direction(g, m, t) / (np.sqrt(v_hat) + eps) + weight_decay * theta
        theta = theta - _eta(learning_rate, step) * update
        path.append(theta)
    return path


def reference_adam(grad, theta, steps, learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    def direction(g, m, t):
        return m / (1 - b1**t)

    return _adam_path(grad, theta, steps, learning_rate, b1, b2, eps, direction)


def reference_nadam(grad, theta, steps, learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    def direction(g, m, t):
        return b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)

    return _adam_path(grad, theta, steps, learning_rate, b1, b2, eps, direction)


def reference_adamw(
    grad, theta, steps, learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2
):
    def direction(g, m, t):
        return m / (1 - b1**t)

    return _adam_path(grad, theta, steps, learning_rate, b1, b2, eps, direction, weight_decay)


def reference_rmsprop(grad, theta, steps, learning_rate, decay=0.9, eps=1e-8):
    v = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        g = grad(theta)
        v = decay * v + (1 - decay) * g**2
        theta = theta - _eta(learning_rate, step) * g / (np.sqrt(v) + eps)
        path.append(theta)
    return path


def reference_adadelta(grad, theta, steps, learning_rate=1.0, rho=0.9, eps=1e-6):
    e_g = np.zeros_like(theta)
    e_delta = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        g = grad(theta)
        e_g = rho * e_g + (1 - rho) * g**2
        delta = np.sqrt(e_delta + eps) / np.sqrt(e_g + eps) * g
        e_delta = rho * e_delta + (1 - rho) * delta**2
        theta = theta - _eta(learning_rate, step) * delta
        path.append(theta)
    return path


def reference_lion(grad, theta, steps, learning_rate=1e-4, b1=0.9, b2=0.99, weight_decay=0.0):
    m = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        g = grad(theta)
        c = np.sign(b1 * m + (1 - b1) * g)
        theta = theta - _eta(learning_rate, step) * (c + weight_decay * theta)
        m = b2 * m + (1 - b2) * g
        path.append(theta)
    return path


def _newton_schulz(u, ns_steps, coefficients, eps):
    a, b, c = coefficients
    tall = u.shape[0] > u.shape[1]
    x = u.T if tall else u
    x = x / (np.linalg.norm(x) + eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def reference_muon(
    grad,
    theta,
    steps,
    learning_rate=0.02,
    momentum=0.95,
    nesterov=True,
    ns_steps=5,
    ns_coefficients=(3.4445, -4.775, 2.0315),
    eps=1e-7,
    weight_decay=0.0,
    adjust_lr="original",
    ns_dtype=None,
    adam_learning_rate=None,
    adam_b1=0.9,
    adam_b2=0.999,
    adam_eps=1e-8,
    adam_weight_decay=0.0,
    muon_mask=None,
):
    """Muon for one array θ when ``muon_mask`` (None: θ is 2-D) takes it, AdamW otherwise.

    θ is (fan_in, fan_out), so "original" is √max(1, cols/rows); a vector taken by Muon is the
    1 × n matrix; ``ns_dtype`` is ignored (float64 throughout).
    """
    mask = muon_mask(theta) if callable(muon_mask) else muon_mask
    if not (theta.ndim == 2 if mask is None else mask):
        return reference_adamw(
            grad,
            theta,
            steps,
            learning_rate if adam_learning_rate is None else adam_learning_rate,
            adam_b1,
            adam_b2,
            adam_eps,
            adam_weight_decay,
        )
    rows, cols = theta.shape if theta.ndim == 2 else (1, theta.size)
    scale = (
        np.sqrt(max(1, cols / rows)) if adjust_lr == "original" else 0.2 * np.sqrt(max(rows, cols))
    )
    m = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        g = grad(theta)
        m = momentum * m + (1 - momentum) * g
        u = (1 - momentum) * g + momentum * m if nesterov else m
        o = _newton_schulz(u.reshape(rows, cols), ns_steps, ns_coefficients, eps).reshape(
            theta.shape
        )
        eta = _eta(learning_rate, step)
        theta = theta * (1 - eta * weight_decay) - eta * scale * o
        path.append(theta)
    return path


def _schedule_free_path(grad, theta, steps, learning_rate, beta, warmup_steps, r, power, direction):
    """y, z, x as the paper writes them; ``direction(g, y, t)`` is d_t. Returns the y's."""
    z = x = theta
    y = (1 - beta) * z + beta * x
    weight_sum, max_lr = 0.0, 0.0
    path = [y]
    for t in range(steps):
        eta = _eta(learning_rate, t) * (min(1.0, (t + 1) / warmup_steps) if warmup_steps else 1.0)
        max_lr = max(max_lr, eta)
        weight = (t + 1) ** r * max_lr**power
        weight_sum += weight
        c = weight / weight_sum if weight_sum > 0 else 0.0
        z = z - eta * direction(grad(y), y, t)
        x = (1 - c) * x + c * z
        y = (1 - beta) * z + beta * x
        path.append(y)
    return path


def reference_schedule_free_sgd(
    grad,
    theta,
    steps,
    learning_rate=1.0,
    momentum=0.9,
    weight_decay=0.0,
    warmup_steps=0,
    r=0.0,
    weight_lr_power=2.0,
):
    def direction(g, y, t):
        return g + weight_decay * y

    return _schedule_free_path(
        grad, theta, steps, learning_rate, momentum, warmup_steps, r, weight_lr_power, direction
    )


def reference_schedule_free_adamw(
    grad,
    theta,
    steps,
    learning_rate=0.0025,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    weight_decay=0.0,
    warmup_steps=0,
    r=0.0,
    weight_lr_power=2.0,
):
    v = np.zeros_like(theta)

    def direction(g, y, t):
        nonlocal v
        v = b2 * v + (1 - b2) * g**2
        v_hat = v / (1 - b2 ** (t + 1))
        return g / (np.sqrt(v_hat) + eps) + weight_decay * y

    return _schedule_free_path(
        grad, theta, steps, learning_rate, b1, warmup_steps, r, weight_lr_power, direction
    )


def reference_ademamix(
    grad,
    theta,
    steps,
    learning_rate=1e-3,
    b1=0.9,
    b2=0.999,
    b3=0.9999,
    alpha=5.0,
    b3_warmup=None,
    alpha_warmup=None,
    eps=1e-8,
    weight_decay=0.0,
):
    """The paper's Algorithm 1 with its schedulers at the 1-based step t."""

    def f(beta):
        return np.log(0.5) / np.log(beta) - 1

    def beta3_at(t):
        if b3_warmup is None or t >= b3_warmup:
            return b3
        a = t / b3_warmup
        return 0.5 ** (1 / ((1 - a) * f(b1) + a * f(b3) + 1))

    def alpha_at(t):
        return alpha if alpha_warmup is None else alpha * min(1.0, t / alpha_warmup)

    m1 = np.zeros_like(theta)
    m2 = np.zeros_like(theta)
    v = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        t = step + 1
        g = grad(theta)
        m1 = b1 * m1 + (1 - b1) * g
        m2 = beta3_at(t) * m2 + (1 - beta3_at(t)) * g
        v = b2 * v + (1 - b2) * g**2
        m1_hat = m1 / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        update = (m1_hat + alpha_at(t) * m2) / (np.sqrt(v_hat) + eps) + weight_decay * theta
        theta = theta - _eta(learning_rate, step) * update
        path.append(theta)
    return path


REFERENCES = {
    "sgd": reference_sgd,
    "momentum": reference_momentum,
    "nesterov": reference_nesterov,
    "adagrad": reference_adagrad,
    "adam": reference_adam,
    "rmsprop": reference_rmsprop,
    "adadelta": reference_adadelta,
    "nadam": reference_nadam,
    "adamw": reference_adamw,
    "lion": reference_lion,
    "muon": reference_muon,
    "schedule_free_sgd": reference_schedule_free_sgd,
    "schedule_free_adamw": reference_schedule_free_adamw,
    "ademamix": reference_ademamix,
}

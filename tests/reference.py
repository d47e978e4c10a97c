"""The update rules of the optimizer table, written literally in NumPy.

Each ``reference_<name>(grad, theta, steps, learning_rate, **hyperparameters)`` runs ``steps``
updates from ``theta`` and returns the parameter trajectory ``[θ₀, θ₁, …]``. ``grad`` maps θ to
∇L(θ); ``learning_rate`` is a number or a function of the 0-based step. Nothing here is shared
with the library: a change of formula there must be made here too, on purpose.
"""

from __future__ import annotations

import math

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


def reference_nadamw(
    grad,
    theta,
    steps,
    learning_rate=1e-3,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    weight_decay=1e-2,
    variant="algoperf",
    momentum_decay=4e-3,
):
    """θ₀, θ₁, … of NAdamW; AlgoPerf's statements (init2winit's ``scale_by_nadam``), optax's
    (``scale_by_adam(nesterov=True)``) and torch's (``_single_tensor_nadam``), one by one."""
    m, v, mu_product = np.zeros_like(theta), np.zeros_like(theta), 1.0
    path = [theta]
    for step in range(steps):
        t = step + 1
        g = grad(theta)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        denominator = np.sqrt(v / (1 - b2**t)) + eps
        if variant == "algoperf":
            look_ahead = (b1 * m + (1 - b1) * g) / (1 - b1**t)
        elif variant == "optax":
            look_ahead = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        else:
            mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
            mu_product *= mu
            look_ahead = (1 - mu) * g / (1 - mu_product) + mu_next * m / (1 - mu_product * mu_next)
        theta = theta - _eta(learning_rate, step) * (
            look_ahead / denominator + weight_decay * theta
        )
        path.append(theta)
    return path


def _caution(direction, g, rescale):
    """The authors' mask on a direction along g: 1[d g > 0], rescaled per leaf."""
    mask = (direction * g > 0).astype(float)
    if rescale == "count":
        return mask * (mask.size / (mask.sum() + 1))
    return mask / max(mask.mean(), 1e-3)


def reference_cautious_adamw(
    grad,
    theta,
    steps,
    learning_rate=1e-3,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    weight_decay=1e-2,
    rescale="count",
):
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        t, g, eta = step + 1, grad(theta), _eta(learning_rate, step)
        theta = theta * (1 - eta * weight_decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        update = m * _caution(m, g, rescale) / (1 - b1**t)
        theta = theta - eta * update / (np.sqrt(v / (1 - b2**t)) + eps)
        path.append(theta)
    return path


def reference_cautious_lion(
    grad, theta, steps, learning_rate=1e-4, b1=0.9, b2=0.99, weight_decay=0.0, rescale="count"
):
    m = np.zeros_like(theta)
    path = [theta]
    for step in range(steps):
        g, eta = grad(theta), _eta(learning_rate, step)
        theta = theta * (1 - eta * weight_decay)
        c = np.sign(b1 * m + (1 - b1) * g)
        theta = theta - eta * c * _caution(c, g, rescale)
        m = b2 * m + (1 - b2) * g
        path.append(theta)
    return path


def reference_mars(
    grad,
    theta,
    steps,
    learning_rate=3e-3,
    b1=0.95,
    b2=0.99,
    gamma=0.025,
    eps=1e-8,
    weight_decay=0.0,
    mars_type="adamw",
    optimize_1d=False,
    learning_rate_1d_factor=1.0,
    b1_1d=0.9,
    b2_1d=0.95,
    weight_decay_1d=0.1,
    use_mars=None,
    eps_form="authors",
    clipped=None,
):
    """The authors' ``update_fn`` on one array (``use_mars``: None for their ndim == 2 rule).

    ``clipped``, a list, collects whether ‖c‖ > 1 at each MARS step.
    """
    use_mars = (optimize_1d or np.ndim(theta) == 2) if use_mars is None else use_mars
    exp_avg, exp_avg_sq, last_grad = (np.zeros_like(theta) for _ in range(3))

    def denominator(v, beta1, beta2, t):
        bias_correction1, bias_correction2 = 1.0 - beta1**t, 1.0 - beta2**t
        if eps_form == "authors":
            return (np.sqrt(v) * (1 / math.sqrt(bias_correction2)) + eps) * bias_correction1
        return (np.sqrt(v + 1e-15) + eps) / math.sqrt(bias_correction2) * bias_correction1

    path = [theta]
    for step in range(steps):
        t, g, lr = step + 1, grad(theta), _eta(learning_rate, step)
        if use_mars:
            c_t = (g - last_grad) * (gamma * (b1 / (1.0 - b1))) + g
            c_t_norm = np.linalg.norm(c_t)
            if clipped is not None:
                clipped.append(c_t_norm > 1.0)
            if c_t_norm > 1.0:
                c_t = c_t / c_t_norm
            exp_avg = exp_avg * b1 + (1.0 - b1) * c_t
            if mars_type == "adamw":
                exp_avg_sq = exp_avg_sq * b2 + (1.0 - b2) * c_t * c_t
                update = exp_avg / denominator(exp_avg_sq, b1, b2, t)
            else:
                update = np.sign(exp_avg)
            theta = theta - lr * (theta * weight_decay + update)
        else:
            lr_1d = lr * learning_rate_1d_factor
            exp_avg = exp_avg * b1_1d + (1.0 - b1_1d) * g
            exp_avg_sq = exp_avg_sq * b2_1d + (1.0 - b2_1d) * g * g
            update = exp_avg / denominator(exp_avg_sq, b1_1d, b2_1d, t)
            theta = theta - lr_1d * (theta * weight_decay_1d + update)
        last_grad = g
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
    "nadamw": reference_nadamw,
    "cautious_adamw": reference_cautious_adamw,
    "cautious_lion": reference_cautious_lion,
    "mars": reference_mars,
}

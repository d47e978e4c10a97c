"""The update rules of the optimizer table, written literally in NumPy.

Each ``reference_<name>(grad, theta, steps, learning_rate, **hyperparameters)`` runs ``steps``
updates from ``theta`` and returns the parameter trajectory ``[θ₀, θ₁, …]``. ``grad`` maps θ to
∇L(θ); ``learning_rate`` is a number or a function of the 0-based step. Nothing here is shared
with the library: a change of formula there must be made here too, on purpose. (Kron's random
vectors are drawn with ``jax.random`` by the derivation its module uses, written out again, so
that both sides take the same draws.)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
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


# PSGD Kron (psgd-jax's rule), Q as the dense Kronecker product of its factors.

F32_ROOT_EPS = float(np.sqrt(np.finfo(np.float32).eps, dtype=np.float32))  # 2^-11.5 in f32


def _kron_schedule(t):
    return min(max(math.exp(-0.001 * (t - 500)), 0.03), 1.0)


def _kron_draws(seed, count, shapes):
    """psgd-jax's draws, written out: (U_update, U_balance, [V per leaf]) at 0-based count."""
    with jax.enable_x64(True):
        key, sub = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), count))
        sub, balance_key = jax.random.split(sub)
        _, v_key = jax.random.split(sub)
        keys = jax.random.split(v_key, len(shapes))
        vs = [
            np.asarray(jax.random.normal(k, s, jnp.float64))
            for k, s in zip(keys, shapes, strict=True)
        ]
        return float(jax.random.uniform(key)), float(jax.random.uniform(balance_key)), vs


def _norm_lower_bound(a):
    m = np.max(np.abs(a))
    if m == 0:
        return 0.0
    a = a / m
    columns, rows = np.sum(a * a, axis=0), np.sum(a * a, axis=1)
    i, j = np.argmax(columns), np.argmax(rows)
    if columns[i] > rows[j]:
        x = a[:, i] @ a
        return m * np.linalg.norm(a @ (x / np.linalg.norm(x)))
    x = a @ a[j]
    return m * np.linalg.norm(a.T @ (x / np.linalg.norm(x)))


def _kron_unfold(x, shape, axis):
    return np.moveaxis(x.reshape(shape), axis, 0).reshape(shape[axis], -1)


def _kron_dense(factor):
    return factor if factor.ndim == 2 else np.diag(factor)


def reference_kron_tree(
    grad,
    theta,
    steps,
    learning_rate=1e-3,
    b1=0.9,
    weight_decay=0.0,
    decayed=None,
    preconditioner_update_probability=None,
    max_size_triangular=8192,
    min_ndim_triangular=2,
    memory_save_mode=None,
    momentum_into_precond_update=True,
    preconditioner_lr=0.1,
    preconditioner_init_scale=1.0,
    precond_damping=F32_ROOT_EPS,
    preconditioner_update_rule="counter",
    seed=5318008,
    mu_dtype=None,
    precond_dtype=None,
):
    """PSGD Kron on a dict of NumPy arrays (leaves in sorted-key order, as jax.tree.leaves);
    ``decayed``: the names λ applies to (None: all). Q is formed as the dense Kronecker product
    of its factors; a scalar is a leaf of shape (1,). Returns [θ₀, θ₁, …]."""
    del mu_dtype, precond_dtype  # float64 throughout
    names = sorted(theta)
    shapes = {n: theta[n].shape or (1,) for n in names}
    factors = {}
    for n in names:
        shape = shapes[n]
        diagonal = [False] * len(shape)
        if memory_save_mode == "one_diag":
            diagonal[int(np.argsort(shape)[::-1][0])] = True
        elif memory_save_mode == "all_diag":
            diagonal = [True] * len(shape)
        scale = preconditioner_init_scale ** (1 / len(shape))
        factors[n] = [
            scale * np.ones(size)
            if size == 1 or size > max_size_triangular or len(shape) < min_ndim_triangular or d
            else scale * np.eye(size)
            for size, d in zip(shape, diagonal, strict=True)
        ]
    m = {n: np.zeros(theta[n].size) for n in names}
    counter = 0
    path = [theta]
    for step in range(steps):
        t = step + 1
        g = {n: np.ravel(v) for n, v in grad(theta).items()}
        m = {n: b1 * m[n] + (1 - b1) * g[n] for n in names}
        mhat = {n: m[n] / (1 - b1**t) for n in names}
        p = preconditioner_update_probability
        p = _kron_schedule(t) if p is None else (p(t) if callable(p) else p)
        u_update, u_balance, vs = _kron_draws(seed, step, [theta[n].shape for n in names])
        counter += 1
        if preconditioner_update_rule == "counter":
            update = p > 0 and counter >= 1 / p
        else:
            update = u_update < p
        if update:
            counter = 0
            for n, v in zip(names, vs, strict=True):
                shape, fs = shapes[n], factors[n]
                if u_balance < 0.01 and len(fs) > 1:
                    norms = [np.max(np.abs(f)) for f in fs]
                    mean = np.prod(norms) ** (1 / len(fs))
                    fs = [f * mean / norm for f, norm in zip(fs, norms, strict=True)]
                h = mhat[n] if momentum_into_precond_update else g[n]
                v = np.ravel(v)
                h = h + precond_damping * np.mean(np.abs(h)) * v
                q = _kron_dense(fs[0])
                for f in fs[1:]:
                    q = np.kron(q, _kron_dense(f))
                a, b = q @ h, np.linalg.solve(q.T, v)
                new = []
                for axis, f in enumerate(fs):
                    a_i, b_i = _kron_unfold(a, shape, axis), _kron_unfold(b, shape, axis)
                    term1, term2 = a_i @ a_i.T, b_i @ b_i.T
                    if f.ndim == 2:
                        step_size = preconditioner_lr / _norm_lower_bound(term1 + term2)
                        new.append(f - step_size * np.triu(term1 - term2) @ f)
                    else:
                        d1, d2 = np.diag(term1), np.diag(term2)
                        step_size = preconditioner_lr / np.max(np.abs(d1 + d2))
                        new.append(f - step_size * (d1 - d2) * f)
                factors[n] = new
        eta = learning_rate(step) if callable(learning_rate) else learning_rate
        new_theta = {}
        for n in names:
            q = _kron_dense(factors[n][0])
            for f in factors[n][1:]:
                q = np.kron(q, _kron_dense(f))
            u = q.T @ q @ mhat[n]
            u = u / max(1.0, np.sqrt(np.mean(u * u)) / 1.1)
            lam = weight_decay if decayed is None or n in decayed else 0.0
            flat = np.ravel(theta[n])
            new_theta[n] = (flat - eta * (u + lam * flat)).reshape(theta[n].shape)
        theta = new_theta
        path.append(theta)
    return path


def reference_kron(grad, theta, steps, learning_rate=1e-3, **hyperparameters):
    """The rule on one array θ, the conformance kit's form."""
    path = reference_kron_tree(
        lambda tree: {"theta": grad(tree["theta"])},
        {"theta": theta},
        steps,
        learning_rate,
        **hyperparameters,
    )
    return [point["theta"] for point in path]


def _soap_merge(shape, max_dim):
    new_shape, current = [], 1
    for size in shape:
        if current * size > max_dim:
            if current > 1:
                new_shape.append(current)
                current = size
            else:
                new_shape.append(size)
                current = 1
        else:
            current = current * size
    if current > 1 or len(new_shape) == 0:
        new_shape.append(current)
    return new_shape


def reference_soap(
    grad,
    theta,
    steps,
    learning_rate=3e-3,
    b1=0.95,
    b2=0.95,
    shampoo_beta=None,
    eps=1e-8,
    weight_decay=1e-2,
    precondition_frequency=10,
    max_precondition_dim=10000,
    merge_dims=False,
    precondition_1d=False,
    correct_bias=True,
    normalize_gradient=False,
):
    """SOAP as the authors' ``soap.py`` writes it, on an array or a dict of arrays."""
    if not isinstance(theta, dict):
        path = reference_soap(
            lambda t: {"": grad(t[""])},
            {"": theta},
            steps,
            learning_rate,
            b1,
            b2,
            shampoo_beta,
            eps,
            weight_decay,
            precondition_frequency,
            max_precondition_dim,
            merge_dims,
            precondition_1d,
            correct_bias,
            normalize_gradient,
        )
        return [point[""] for point in path]
    beta_s = b2 if shampoo_beta is None else shampoo_beta

    def reshape(x):  # merge_dims reshapes tensors of 2 or more dimensions
        return x.reshape(_soap_merge(x.shape, max_precondition_dim)) if merge_dims else x

    def project(x, q_list, back=False):
        shape = x.shape
        x = reshape(x) if x.ndim != 1 else x
        for q in q_list:
            if q is None:
                x = np.transpose(x, [*range(1, x.ndim), 0])
            else:
                x = np.tensordot(x, q, axes=([0], [1 if back else 0]))
        return x.reshape(shape)

    states = {}
    path = [dict(theta)]
    for step in range(steps):
        grads = grad(theta)
        theta = dict(theta)
        for name, g in grads.items():
            if name not in states:
                gg = []
                if g.ndim == 1:
                    take = precondition_1d and g.shape[0] <= max_precondition_dim
                    gg.append(np.zeros((g.shape[0],) * 2) if take else None)
                else:
                    gg = [
                        np.zeros((n, n)) if n <= max_precondition_dim else None
                        for n in reshape(g).shape
                    ]
                states[name] = {
                    "step": 0,
                    "exp_avg": np.zeros_like(g),
                    "exp_avg_sq": np.zeros_like(g),
                    "GG": gg,
                    "Q": None,
                }
                _update_preconditioner(
                    states[name], g, beta_s, precondition_frequency, reshape, project
                )
                continue  # the first step only starts the preconditioner
            state = states[name]
            g_rot = project(g, state["Q"])
            state["step"] += 1
            t = state["step"]
            state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * g_rot
            state["exp_avg_sq"] = b2 * state["exp_avg_sq"] + (1 - b2) * g_rot**2
            denom = np.sqrt(state["exp_avg_sq"]) + eps
            step_size = _eta(learning_rate, step)
            if correct_bias:
                step_size = step_size * (1 - b2**t) ** 0.5 / (1 - b1**t)
            norm_grad = project(state["exp_avg"] / denom, state["Q"], back=True)
            if normalize_gradient:
                norm_grad = norm_grad / (1e-30 + np.mean(norm_grad**2) ** 0.5)
            p = theta[name] - step_size * norm_grad
            if weight_decay > 0:
                p = p - _eta(learning_rate, step) * weight_decay * p
            theta[name] = p
            _update_preconditioner(state, g, beta_s, precondition_frequency, reshape, project)
        path.append(theta)
    return path


def _update_preconditioner(state, g, beta_s, frequency, reshape, project):
    if state["Q"] is not None:
        state["exp_avg"] = project(state["exp_avg"], state["Q"], back=True)
    grad = reshape(g) if g.ndim != 1 else g
    for axis, gg in enumerate(state["GG"]):
        if gg is not None:
            others = [a for a in range(grad.ndim) if a != axis]
            outer = np.tensordot(grad, grad, axes=(others, others))
            state["GG"][axis] = beta_s * gg + (1 - beta_s) * outer
    if state["Q"] is None:
        state["Q"] = [
            None if gg is None else np.linalg.eigh(gg + 1e-30 * np.eye(len(gg)))[1][:, ::-1]
            for gg in state["GG"]
        ]
    if state["step"] > 0 and state["step"] % frequency == 0:
        exp_avg_sq = reshape(state["exp_avg_sq"]) if g.ndim != 1 else state["exp_avg_sq"]
        new_q = []
        for axis, (gg, o) in enumerate(zip(state["GG"], state["Q"], strict=True)):
            if gg is None:
                new_q.append(None)
                continue
            est_eig = np.diag(o.T @ gg @ o)
            order = np.argsort(-est_eig)
            exp_avg_sq = np.take(exp_avg_sq, order, axis=axis)
            new_q.append(np.linalg.qr(gg @ o[:, order])[0])
        state["exp_avg_sq"] = exp_avg_sq.reshape(g.shape)
        state["Q"] = new_q
    if state["step"] > 0:
        state["exp_avg"] = project(state["exp_avg"], state["Q"])


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
    "kron": reference_kron,
    "soap": reference_soap,
}

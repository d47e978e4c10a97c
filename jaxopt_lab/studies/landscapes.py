"""Optimizer trajectories on 2-D test functions (pure JAX, no engine, no data).

The functions, each with its global minimum f* at x*:

- Rosenbrock   f = (1 − x)² + 100 (y − x²)²,                         x* = (1, 1), f* = 0:
  a curved narrow valley; the gradient points across it, not along it.
- Beale        f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²,  x* = (3, ½), f* = 0:
  flat plateaus and steep walls; gradient scales differ by orders of magnitude.
- quadratic    f = ½ (x² + κ y²), κ = 25,                            x* = 0, f* = 0:
  ill-conditioned and axis-aligned — momentum's textbook case (the notebook's animations), and
  one a diagonal preconditioner (AdaGrad, RMSProp, Adam) fixes exactly.
- rotated quadratic  the same quadratic rotated by 45°: no diagonal preconditioner fixes it.
- saddle       f = x² + y⁴/4 − y²/2,   saddle at 0, minima at (0, ±1), f* = −¼:
  started next to the saddle, the y-gradient is tiny; methods that rescale it escape fast.

Every optimizer's learning rate is chosen per function from a log grid (all grid points run at
once with ``vmap`` over ``optax.inject_hyperparams``) by the lowest mean of
log₁₀(f − f* + 10⁻¹⁰) along the trajectory: it rewards getting close *and* getting there early,
and a diverging learning rate scores +∞.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.optimizers import OPTIMIZERS

LOG_FLOOR = 1e-10


@dataclasses.dataclass(frozen=True)
class TestFunction:
    """A 2-D function, its minimum, a start point and the plotting window."""

    fn: Callable[[jax.Array], jax.Array]
    minimum: tuple[float, float]
    f_min: float
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def rosenbrock(p: jax.Array) -> jax.Array:
    x, y = p[0], p[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def beale(p: jax.Array) -> jax.Array:
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def quadratic(p: jax.Array, kappa: float = 25.0) -> jax.Array:
    return 0.5 * (p[0] ** 2 + kappa * p[1] ** 2)


def rotated_quadratic(p: jax.Array, kappa: float = 25.0) -> jax.Array:
    c = math.sqrt(0.5)
    return quadratic(jnp.stack([c * (p[0] + p[1]), c * (p[1] - p[0])]), kappa)


def saddle(p: jax.Array) -> jax.Array:
    x, y = p[0], p[1]
    return x**2 + 0.25 * y**4 - 0.5 * y**2


FUNCTIONS: dict[str, TestFunction] = {
    "rosenbrock": TestFunction(rosenbrock, (1.0, 1.0), 0.0, (-1.5, 2.0), (-2.0, 2.0), (-1.0, 3.0)),
    "beale": TestFunction(beale, (3.0, 0.5), 0.0, (1.0, 1.5), (-1.0, 4.5), (-1.5, 2.0)),
    "quadratic": TestFunction(quadratic, (0.0, 0.0), 0.0, (-4.0, 1.5), (-5.0, 5.0), (-2.5, 2.5)),
    "rotated_quadratic": TestFunction(
        rotated_quadratic, (0.0, 0.0), 0.0, (-4.0, 1.5), (-5.0, 5.0), (-3.5, 3.5)
    ),
    "saddle": TestFunction(saddle, (0.0, 1.0), -0.25, (1.5, 1e-3), (-2.0, 2.0), (-1.6, 1.6)),
}


def trajectories(
    optimizer: str,
    fn: Callable[[jax.Array], jax.Array],
    start: Sequence[float],
    learning_rates: Sequence[float],
    steps: int,
) -> np.ndarray:
    """Points ``[n_lr, steps + 1, 2]`` of ``optimizer`` from ``start``, one path per rate.

    The rates run together: ``vmap`` over ``optax.inject_hyperparams(optimizer)``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {sorted(OPTIMIZERS)}")
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    grad = jax.grad(fn)
    factory = optax.inject_hyperparams(OPTIMIZERS[optimizer])
    p0 = jnp.asarray(start, jnp.float32)

    def one(lr: jax.Array) -> jax.Array:
        opt = factory(learning_rate=lr)

        def step(carry, _):
            p, state = carry
            updates, state = opt.update(grad(p), state, p)
            p = optax.apply_updates(p, updates)
            return (p, state), p

        _, path = jax.lax.scan(step, (p0, opt.init(p0)), None, length=steps)
        return jnp.concatenate([p0[None], path])

    lrs = jnp.asarray(learning_rates, jnp.float32)
    return np.asarray(jax.jit(jax.vmap(one))(lrs))


def path_values(fn: Callable[[jax.Array], jax.Array], paths: np.ndarray) -> np.ndarray:
    """f along paths ``[..., steps, 2]``; non-finite points give +∞."""
    flat = jnp.asarray(paths).reshape(-1, 2)
    vals = np.asarray(jax.jit(jax.vmap(fn))(flat)).reshape(paths.shape[:-1])
    return np.where(np.isfinite(vals) & np.all(np.isfinite(paths), axis=-1), vals, np.inf)


def score(values: np.ndarray, f_min: float) -> np.ndarray:
    """Mean log₁₀ optimality gap along each path (last axis); +∞ if the path blew up."""
    gap = np.maximum(values - f_min, 0.0) + LOG_FLOOR
    out = np.mean(np.log10(gap), axis=-1)
    return np.where(np.all(np.isfinite(values), axis=-1), out, np.inf)


def steps_to_gap(values: np.ndarray, f_min: float, tol: float) -> int | None:
    """First step with f − f* ≤ ``tol``; ``None`` when never."""
    hit = np.flatnonzero(values - f_min <= tol)
    return None if hit.size == 0 else int(hit[0])


def run(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the study: every function × optimizer × grid rate; JSON-able results.

    ``cfg`` keys: ``functions`` (names of :data:`FUNCTIONS`), ``optimizers`` (names of
    ``OPTIMIZERS``), ``steps``, ``lr_grid`` (``{min, max, num}`` of a log grid), ``tolerance``.
    """
    names = list(cfg.get("functions", FUNCTIONS))
    opts = list(cfg.get("optimizers", OPTIMIZERS))
    unknown = [n for n in names if n not in FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown test functions {unknown}; choose from {sorted(FUNCTIONS)}")
    steps = int(cfg.get("steps", 300))
    grid_cfg = cfg.get("lr_grid", {"min": 1e-4, "max": 10.0, "num": 11})
    grid = np.geomspace(float(grid_cfg["min"]), float(grid_cfg["max"]), int(grid_cfg["num"]))
    tol = float(cfg.get("tolerance", 1e-3))
    out: dict[str, Any] = {
        "steps": steps,
        "lr_grid": grid.tolist(),
        "tolerance": tol,
        "functions": {},
    }
    for name in names:
        tf = FUNCTIONS[name]
        res: dict[str, Any] = {
            "minimum": list(tf.minimum),
            "f_min": tf.f_min,
            "start": list(tf.start),
            "xlim": list(tf.xlim),
            "ylim": list(tf.ylim),
            "optimizers": {},
        }
        for opt in opts:
            paths = trajectories(opt, tf.fn, tf.start, grid, steps)
            vals = path_values(tf.fn, paths)
            scores = score(vals, tf.f_min)
            best = int(np.argmin(scores))
            ok = bool(np.isfinite(scores[best]))
            res["optimizers"][opt] = {
                "learning_rate": float(grid[best]),
                "scores": [None if not np.isfinite(s) else float(s) for s in scores],
                "all_diverged": not ok,
                "path": np.where(np.isfinite(paths[best]), paths[best], np.nan).tolist(),
                "values": [None if not np.isfinite(v) else float(v) for v in vals[best]],
                "final_gap": float(vals[best, -1] - tf.f_min) if ok else None,
                "steps_to_tol": steps_to_gap(vals[best], tf.f_min, tol) if ok else None,
            }
        out["functions"][name] = res
    return out


def contour_grid(name: str, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xx, yy, f)`` on an ``n × n`` grid over the function's plotting window."""
    tf = FUNCTIONS[name]
    xs = np.linspace(*tf.xlim, n)
    ys = np.linspace(*tf.ylim, n)
    xx, yy = np.meshgrid(xs, ys)
    zz = np.asarray(jax.vmap(tf.fn)(jnp.stack([xx.ravel(), yy.ravel()], axis=1)))
    return xx, yy, zz.reshape(xx.shape)


def table_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per function × optimizer, ranked within each function by final gap."""
    rows = []
    for fname, res in results["functions"].items():
        for opt, r in res["optimizers"].items():
            rows.append(
                {
                    "function": fname,
                    "optimizer": opt,
                    "learning_rate": r["learning_rate"],
                    "final_gap": r["final_gap"],
                    "steps_to_tol": r["steps_to_tol"],
                    "all_diverged": r["all_diverged"],
                }
            )
    return rows


def leaders(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per function: the closest optimizer after all steps, the fastest to the tolerance, and
    those that never get within it (``None`` entries when every optimizer diverged)."""
    out = {}
    for fname, res in results["functions"].items():
        ok = {o: r for o, r in res["optimizers"].items() if not r["all_diverged"]}
        reached = {o: r["steps_to_tol"] for o, r in ok.items() if r["steps_to_tol"] is not None}
        # Ties in the final gap (several reach f* to float32 precision) go to the faster one.
        closest = min(
            ok, key=lambda o: (ok[o]["final_gap"], reached.get(o, math.inf)), default=None
        )
        fastest = min(reached, key=reached.get, default=None)
        out[fname] = {
            "closest": closest,
            "closest_gap": None if closest is None else ok[closest]["final_gap"],
            "closest_lr": None if closest is None else ok[closest]["learning_rate"],
            "fastest": fastest,
            "fastest_steps": None if fastest is None else reached[fastest],
            "never": sorted(o for o in res["optimizers"] if o not in reached),
        }
    return out


def conclusion_sentences(results: Mapping[str, Any]) -> list[str]:
    """Per function: who gets closest, who is fastest to the tolerance, who never gets there."""
    tol, steps = results["tolerance"], results["steps"]
    out = []
    for fname, lead in leaders(results).items():
        if lead["closest"] is None:
            out.append(f"{fname}: every optimizer diverged at every grid rate.")
            continue
        s = (
            f"{fname}: closest after {steps} steps is {lead['closest']} "
            f"(f − f* = {lead['closest_gap']:.2e}, lr {lead['closest_lr']:.3g})"
        )
        if lead["fastest"] is not None:
            s += (
                f"; fastest to f − f* ≤ {tol:g} is {lead['fastest']} "
                f"({lead['fastest_steps']} steps)"
            )
        if lead["never"]:
            s += f"; never within {tol:g}: {', '.join(lead['never'])}"
        out.append(s + ".")
    return out

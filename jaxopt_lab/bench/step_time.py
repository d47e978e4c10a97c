"""Time one optimizer step (update plus apply) on a pytree of given leaf shapes.

The step is ``u, s = opt.update(g, s, θ); θ = θ + u``, jit-compiled with the parameters and the
optimizer state donated, so XLA may write them in place as a real training loop does. Each
measurement compiles first (timed separately), runs untimed warm-up steps, then times single
steps with the results blocked on; nothing else (no data, no printing) is inside the timed loop.

Bytes a step must move, per parameter: it reads θ, g and the state and writes θ and the state,

    bytes/param = (2·|θ| + |g| + 2·|state|) / n          (|x| = bytes of x, n = parameters)

e.g. 12 for SGD, 20 for momentum, 28 for Adam in float32, and

    GB/s = bytes/param · n / median step seconds / 10⁹.

A step that needs more passes over memory than this minimum shows up as a lower GB/s.

With ``lanes`` > 1 the step is ``jax.vmap``-ed over that many runs, each with its own
parameters and state, as the training engine runs seeds and learning rates in one program; n
then counts every run's parameters, and ``per_run_ms`` is the step's time over the runs.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxopt_lab as jol
from jaxopt_lab.optimizers.flat import flat

Shape = tuple[int, ...]

# The benchmark's parameter trees, as the shapes of their leaves.
SHAPES: dict[str, tuple[Shape, ...]] = {
    "1x10M": ((10_000_000,),),
    "1x100M": ((100_000_000,),),
    "20x500k": ((500_000,),) * 20,
    "1000x1000": ((1_000,),) * 1_000,
    "mnist_mlp": ((784, 128), (128,), (128, 10), (10,)),
}

# Hyperparameters shared by every library in the comparison (the step time does not depend on
# their values, only on the rule): the optax equivalent of each jaxopt_lab optimizer.
LEARNING_RATE = 1e-3
OPTAX_EQUIVALENTS: dict[str, Callable[[], optax.GradientTransformation]] = {
    "sgd": lambda: optax.sgd(LEARNING_RATE),
    "momentum": lambda: optax.sgd(LEARNING_RATE, momentum=0.9),
    "nesterov": lambda: optax.sgd(LEARNING_RATE, momentum=0.9, nesterov=True),
    "adagrad": lambda: optax.adagrad(LEARNING_RATE, initial_accumulator_value=0.0, eps=1e-8),
    "adam": lambda: optax.adam(LEARNING_RATE),
    "rmsprop": lambda: optax.rmsprop(LEARNING_RATE, decay=0.9, eps=1e-8),
    "adadelta": lambda: optax.adadelta(LEARNING_RATE, rho=0.9, eps=1e-6),
    "nadam": lambda: optax.nadam(LEARNING_RATE),
    "adamw": lambda: optax.adamw(LEARNING_RATE, weight_decay=1e-2),
    "lion": lambda: optax.lion(LEARNING_RATE, weight_decay=0.0),
    # optax bias-corrects Muon's momentum and reads A × B as (in, out): see muon.py.
    "muon": lambda: optax.contrib.muon(LEARNING_RATE, eps=1e-7),
    "schedule_free_sgd": lambda: optax.contrib.schedule_free_sgd(LEARNING_RATE),
    "schedule_free_adamw": lambda: optax.contrib.schedule_free_adamw(LEARNING_RATE),
    "ademamix": lambda: optax.contrib.ademamix(LEARNING_RATE),
    # optax's NAdamW is nadamw(variant="optax"); the default (AlgoPerf's) differs only in how
    # the look-ahead is bias-corrected, at the same cost. optax has no cautious optimizer.
    "nadamw": lambda: optax.nadamw(LEARNING_RATE, weight_decay=1e-2),
}

_SIZE_SUFFIXES = {"": 1, "k": 1_000, "M": 1_000_000}
_LEAVES_PATTERN = re.compile(r"(\d+)x(\d+)(k|M|)")


@dataclass(frozen=True)
class StepTiming:
    """One timed step: median and fastest milliseconds, compile seconds and bytes moved."""

    median_ms: float
    min_ms: float
    compile_s: float
    n_params: int
    n_leaves: int
    bytes_per_param: float
    repeats: int
    lanes: int = 1

    @property
    def per_run_ms(self) -> float:
        """The median step's milliseconds per run (``lanes`` runs take one vmapped step)."""
        return self.median_ms / self.lanes

    @property
    def gbps(self) -> float:
        """Effective bandwidth: the bytes a step must move over the median step time."""
        return self.bytes_per_param * self.n_params / (self.median_ms * 1e-3) / 1e9

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "gbps": self.gbps, "per_run_ms": self.per_run_ms}


def parse_shapes(name: str) -> tuple[Shape, ...]:
    """The leaf shapes of a named tree: a key of ``SHAPES`` or ``"<leaves>x<size>"``.

    ``"<leaves>x<size>"`` is that many 1-D leaves of ``size`` elements, size optionally with a
    ``k`` or ``M`` suffix: ``"3x100"``, ``"20x500k"``, ``"1x100M"``.
    """
    if name in SHAPES:
        return SHAPES[name]
    match = _LEAVES_PATTERN.fullmatch(name)
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise ValueError(
            f"unknown size {name!r}: use one of {', '.join(SHAPES)} or '<leaves>x<size>' with "
            "positive integers and an optional k/M suffix on the size, e.g. '3x100' or '20x500k'."
        )
    size = int(match[2]) * _SIZE_SUFFIXES[match[3]]
    return ((size,),) * int(match[1])


def make_tree(
    shapes: Sequence[Shape], dtype: Any = jnp.float32, seed: int = 0
) -> tuple[list[jax.Array], list[jax.Array]]:
    """Parameters ~ N(0, 1) and gradients ~ 10⁻² N(0, 1), one leaf per shape."""
    keys = jax.random.split(jax.random.key(seed), 2 * len(shapes))
    params = [jax.random.normal(k, s, dtype) for k, s in zip(keys[::2], shapes, strict=True)]
    grads = [1e-2 * jax.random.normal(k, s, dtype) for k, s in zip(keys[1::2], shapes, strict=True)]
    return params, grads


def _tree_bytes(tree: Any) -> int:
    return sum(x.size * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def bytes_per_param(opt: optax.GradientTransformation, params: Any) -> float:
    """Bytes one step must read and write per parameter: (2·|θ| + |g| + 2·|state|) / n.

    The state's shapes come from ``jax.eval_shape``, so nothing is allocated.
    """
    n_params = sum(x.size for x in jax.tree.leaves(params))
    if n_params == 0:
        raise ValueError("params has no elements: pass a tree with at least one non-empty leaf.")
    state = jax.eval_shape(opt.init, params)
    return (3 * _tree_bytes(params) + 2 * _tree_bytes(state)) / n_params


def _step_fn(opt: optax.GradientTransformation) -> Callable[..., tuple[Any, Any]]:
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


@dataclass
class PreparedStep:
    """A compiled, warmed-up step: ``run()`` performs one step and returns its wall seconds.

    Benchmarks hold several at once and call them in turn, so that a change in the machine's
    load during the measurement slows every library alike instead of whichever ran then.
    """

    run: Callable[[], float]
    compile_s: float
    n_params: int
    n_leaves: int
    bytes_per_param: float
    lanes: int = 1

    def timing(self, seconds: Sequence[float]) -> StepTiming:
        """The ``StepTiming`` of the measured ``seconds`` of this step."""
        return StepTiming(
            median_ms=float(np.median(seconds)) * 1e3,
            min_ms=float(np.min(seconds)) * 1e3,
            compile_s=self.compile_s,
            n_params=self.n_params,
            n_leaves=self.n_leaves,
            bytes_per_param=self.bytes_per_param,
            repeats=len(seconds),
            lanes=self.lanes,
        )


def prepare_step(
    opt: optax.GradientTransformation,
    shapes: Sequence[Shape],
    *,
    warmup: int = 2,
    dtype: Any = jnp.float32,
    seed: int = 0,
    grads: list[jax.Array] | None = None,
    lanes: int = 1,
) -> PreparedStep:
    """Compile (timed) and warm up one jit-compiled, buffer-donating step of ``opt``.

    ``grads`` (one array per shape, never donated) may be shared between prepared steps to
    save memory; by default they are drawn with the parameters. ``lanes`` > 1 vmaps the step
    over that many runs: run i's parameters are drawn with ``seed + i``, and every run sees
    the same gradients.
    """
    if warmup < 0:
        raise ValueError(f"warmup={warmup} must be >= 0.")
    if lanes < 1:
        raise ValueError(f"lanes={lanes} must be >= 1.")
    params, own_grads = make_tree(shapes, dtype, seed)
    grads = own_grads if grads is None else grads
    per_param = bytes_per_param(opt, params)
    step = _step_fn(opt)
    if lanes > 1:
        runs = [params] + [make_tree(shapes, dtype, seed + i)[0] for i in range(1, lanes)]
        params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)
        grads = jax.tree.map(lambda g: jnp.broadcast_to(g, (lanes, *g.shape)), grads)
        state = jax.vmap(opt.init)(params)
        step = jax.vmap(step)
    else:
        state = opt.init(params)
    step = jax.jit(step, donate_argnums=(0, 1))

    start = time.perf_counter()
    compiled = step.lower(params, state, grads).compile()
    compile_s = time.perf_counter() - start

    def run() -> float:
        nonlocal params, state
        start = time.perf_counter()
        params, state = jax.block_until_ready(compiled(params, state, grads))
        return time.perf_counter() - start

    for _ in range(warmup):
        run()
    n_params = lanes * sum(math.prod(s) for s in shapes)
    return PreparedStep(run, compile_s, n_params, len(shapes), per_param, lanes)


def time_step(
    opt: optax.GradientTransformation,
    shapes: Sequence[Shape],
    *,
    repeats: int = 10,
    warmup: int = 2,
    dtype: Any = jnp.float32,
    seed: int = 0,
    lanes: int = 1,
) -> StepTiming:
    """Median time of one jit-compiled, buffer-donating step of ``opt`` on leaves ``shapes``
    (vmapped over ``lanes`` runs)."""
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be >= 1.")
    prepared = prepare_step(opt, shapes, warmup=warmup, dtype=dtype, seed=seed, lanes=lanes)
    return prepared.timing([prepared.run() for _ in range(repeats)])


def jaxopt_lab_optimizer(
    name: str, fast_path: str | None = None, hyperparameters: dict[str, Any] | None = None
) -> optax.GradientTransformation:
    """The library's optimizer ``name`` at the benchmark's learning rate, or with
    ``hyperparameters`` (which may set the learning rate too).

    ``fast_path="flat"`` wraps it in ``jol.flat`` (state in one buffer per dtype).
    """
    opt = jol.get_optimizer(name, **{"learning_rate": LEARNING_RATE, **(hyperparameters or {})})
    if fast_path is None:
        return opt
    if fast_path == "flat":
        return flat(opt)
    raise ValueError(f"unknown fast_path {fast_path!r}: use None or 'flat'.")


def optax_equivalent(name: str) -> optax.GradientTransformation | None:
    """optax's version of the library's optimizer ``name``, or None if optax has none."""
    make = OPTAX_EQUIVALENTS.get(name)
    return None if make is None else make()

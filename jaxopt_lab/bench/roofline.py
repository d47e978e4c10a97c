"""The machine's limits, measured with JAX in the same process as the benchmark they bound.

An optimizer step streams every parameter, gradient and state element through memory once, so
its speed limit is memory bandwidth; a training step is bound by matmul FLOP/s. Both vary with
the machine's load, which is why a benchmark measures them in the same run as its own figures.

STREAM-like kernels, jit-compiled, written in place into a donated buffer (as an optimizer step
writes its parameters and state), on arrays much larger than the last-level cache:

    copy   a ← b            8 bytes per float32 element (1 read, 1 write)
    scale  a ← s·a          8 bytes
    triad  a ← a + s·b     12 bytes (2 reads, 1 write)

    GB/s = bytes per element · n / median seconds / 10⁹

The roofline bandwidth is the best of the three: a step at a fraction f of it moves its bytes
f times as fast as the best plain streaming loop measured here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.bench.step_time import PreparedStep

STREAM_BYTES_PER_ELEMENT = {"copy": 2, "scale": 2, "triad": 3}  # in units of the itemsize


@dataclass(frozen=True)
class Bandwidth:
    """Median GB/s of each STREAM-like kernel, and the best of them (``roofline_gbps``)."""

    copy_gbps: float
    scale_gbps: float
    triad_gbps: float
    n_elements: int

    @property
    def roofline_gbps(self) -> float:
        return max(self.copy_gbps, self.scale_gbps, self.triad_gbps)

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "roofline_gbps": self.roofline_gbps}


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``run()`` with its result blocked on; ``run`` is warm already."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _stream_kernel(name: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The kernel ``name`` as f(a, b) -> new a, with ``a`` donated so XLA writes in place."""
    kernels = {
        "copy": lambda a, b: jnp.copy(b),
        "scale": lambda a, b: a * jnp.asarray(1.0001, a.dtype),
        "triad": lambda a, b: a + jnp.asarray(0.5, a.dtype) * b,
    }
    # keep_unused: copy never reads ``a``, but its buffer must still be there to be written.
    return jax.jit(kernels[name], donate_argnums=0, keep_unused=True)


def stream_bandwidth(
    n: int = 50_000_000, repeats: int = 10, dtype: jnp.dtype = jnp.float32
) -> Bandwidth:
    """Median copy, scale and triad bandwidth on ``n``-element arrays (default 200 MB each).

    ``n`` should be several times the last-level cache or the figure measures the cache.
    """
    if n < 1 or repeats < 1:
        raise ValueError(f"n={n} and repeats={repeats} must both be >= 1.")
    itemsize = jnp.dtype(dtype).itemsize
    b = jnp.full((n,), 0.5, dtype)
    gbps = {}
    for name, per_element in STREAM_BYTES_PER_ELEMENT.items():
        kernel = _stream_kernel(name)
        a = jnp.ones((n,), dtype)
        a = jax.block_until_ready(kernel(a, b))  # compile and touch the pages

        def run(kernel=kernel):
            nonlocal a
            a = kernel(a, b)
            return a

        seconds = _median_seconds(run, repeats)
        gbps[name] = per_element * itemsize * n / seconds / 1e9
        del a
    return Bandwidth(gbps["copy"], gbps["scale"], gbps["triad"], n)


def prepare_triad(n: int, warmup: int = 2, dtype: jnp.dtype = jnp.float32) -> PreparedStep:
    """The in-place triad on ``n`` elements as a ``PreparedStep`` (12 bytes per float32 element).

    Timed in turns with optimizer steps on ``n`` parameters, it is the bandwidth reference
    measured under the same load and for the same element count (in cache for small ``n``).
    """
    if n < 1 or warmup < 0:
        raise ValueError(f"n={n} must be >= 1 and warmup={warmup} >= 0.")
    kernel = _stream_kernel("triad")
    a, b = jnp.ones((n,), dtype), jnp.full((n,), 0.5, dtype)
    start = time.perf_counter()
    compiled = kernel.lower(a, b).compile()
    compile_s = time.perf_counter() - start

    def run() -> float:
        nonlocal a
        start = time.perf_counter()
        a = jax.block_until_ready(compiled(a, b))
        return time.perf_counter() - start

    for _ in range(warmup):
        run()
    per_element = STREAM_BYTES_PER_ELEMENT["triad"] * jnp.dtype(dtype).itemsize
    return PreparedStep(run, compile_s, n, 1, per_element)


def matmul_flops(
    n: int = 1024,
    repeats: int = 10,
    dtype: jnp.dtype = jnp.float32,
    *,
    shape: tuple[int, int, int] | None = None,
    inner: int = 1,
) -> float:
    """Median FLOP/s of a jit-compiled matmul ``[m, k] @ [k, p]`` (2·m·k·p FLOPs per product).

    ``shape=(m, k, p)`` defaults to the square ``(n, n, n)``. ``inner`` dependent products run in
    one compiled loop, so that for small matmuls (a training step's) the call's dispatch does
    not count.
    """
    m, k, p = shape if shape is not None else (n, n, n)
    if min(m, k, p, repeats, inner) < 1:
        raise ValueError(
            f"n={n}, shape={shape}, repeats={repeats} and inner={inner} must all be >= 1."
        )
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (m, k), dtype)
    b = jax.random.normal(key_b, (k, p), dtype) / jnp.sqrt(jnp.asarray(k, dtype))

    @jax.jit
    def products(a, b):
        # Each product feeds the next one's left operand, so none can be skipped.
        def body(_, x):
            return x + (x @ b)[:, :1]

        return jax.lax.fori_loop(0, inner, body, a)

    jax.block_until_ready(products(a, b))
    return 2 * m * k * p * inner / _median_seconds(lambda: products(a, b), repeats)

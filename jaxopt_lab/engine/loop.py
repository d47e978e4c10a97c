"""Run sets trained together: one compiled program per epoch for all runs.

A run set is the product seeds × learning rates of one or more optimizer *groups* (one group
per optimizer config). Every leaf of a group's state carries two leading axes ``[S, L]``: the
seed and the learning rate. Runs with the same seed share their initial parameters and their
data order (paired comparisons). Within a seed every group gets the same batch, and vmap turns
the per-learning-rate matmuls of a group into one matmul over its runs; the seeds, each with its
own batches, run one after another inside the program on CPU (``over_seeds``).

An epoch, as one XLA program (``make_epoch``), given the epoch's data order (``epoch_orders``):

    order  = permutation with NumPy's PCG64 seeded by (seed, epoch)   one per seed
    scan over the epoch's batches b:  θ_r, s_r ← train_step(θ_r, s_r, batch_b)   for all runs r
    train_loss_r = Σ_b ℓ_r(b)·|b| / Σ_b |b|    val_loss_r, val_accuracy_r = evaluate(x_r)
    x_r = eval_params(s_r, θ_r): θ_r itself, or a schedule-free optimizer's average x_r
    diverged_r  |= train/val loss or θ_r not finite; a diverged run keeps the state it had at
                   the start of the epoch (frozen), the others are unaffected.

The last partial batch (50,000 = 1,562·32 + 16) is kept by default (``last_batch="mask"``): it is
padded to the batch size with weight-0 samples, so its loss is the mean over its 16 real
samples, exactly as PyTorch's DataLoader batch of 16; ``"drop"`` skips it.

The order depends only on (seed, epoch), not on a carried RNG state, so an epoch can be rerun
after a restart and gives the same bits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.config import LAST_BATCH
from jaxopt_lab.engine.mesh import RUNS
from jaxopt_lab.engine.step import evaluate, train_step
from jaxopt_lab.model import INPUT_WIDTH
from jaxopt_lab.optimizers.schedule_free import eval_params
from jaxopt_lab.workloads import Workload
from jaxopt_lab.workloads import get as get_workload


def steps_per_epoch(n_train: int, batch_size: int, last_batch: str) -> int:
    """Optimizer steps in an epoch of ``n_train`` samples: the full batches, and the last
    partial one when it is kept (``last_batch="mask"``)."""
    full, rest = divmod(n_train, batch_size)
    return full + (1 if rest and last_batch == "mask" else 0)


class GroupState(NamedTuple):
    """The state of one optimizer group; every leaf has leading axes ``[S, L]``."""

    params: Any
    opt_state: Any
    diverged: jax.Array  # bool [S, L]
    diverged_epoch: jax.Array  # int32 [S, L]: the 1-based epoch it diverged at, 0 if it has not


@dataclasses.dataclass(frozen=True)
class RunSetSpec:
    """The static description of a run set's compiled programs.

    ``transforms[g]`` maps a (traced) learning rate to group g's optimizer; ``unroll`` is the
    number of steps per iteration of the compiled loop over batches. ``batch_sharding``, when
    set, splits each batch's samples over a device mesh (``mesh.py``); None is the
    single-device program. ``seed_mesh``, when set, is a mesh whose ``"runs"`` axis splits the
    seeds: each device trains its own seeds (``over_seeds``). ``input_width`` is the width of a
    sample's row, which the initialiser needs before it sees any data. ``workload`` gives the
    preprocessing of training batches, the loss and the evaluation metrics.
    """

    model: nn.Module
    transforms: tuple[Callable[[Any], optax.GradientTransformation], ...]
    n_train: int
    batch_size: int
    last_batch: str = "mask"
    unroll: int = 1
    batch_sharding: jax.sharding.NamedSharding | None = None
    seed_mesh: jax.sharding.Mesh | None = None
    input_width: int = INPUT_WIDTH
    workload: Workload = dataclasses.field(default_factory=lambda: get_workload("mnist_mlp"))

    def __post_init__(self) -> None:
        if self.last_batch not in LAST_BATCH:
            raise ValueError(f"last_batch must be one of {LAST_BATCH}, got {self.last_batch!r}")
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{self.n_train} training samples make no full batch of {self.batch_size}; "
                "use last_batch='mask' or a smaller batch_size"
            )

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch (the partial batch counts when it is kept)."""
        return steps_per_epoch(self.n_train, self.batch_size, self.last_batch)

    @property
    def samples_per_epoch(self) -> int:
        """Training samples one run sees per epoch."""
        if self.last_batch == "mask":
            return self.n_train
        return (self.n_train // self.batch_size) * self.batch_size


def epoch_order(spec: RunSetSpec, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch indices ``[steps, B]`` (int32) and weights ``[steps, B]`` (float32) for (seed, epoch).

    The permutation is NumPy's (PCG64 seeded with (seed, epoch)), drawn on the host in about a
    millisecond and sent to the device once per epoch; as part of the compiled epoch it cost
    ≈0.7 s of compilation (JAX's random permutation is large code) for no faster run.
    """
    order = np.random.default_rng((seed, epoch)).permutation(spec.n_train).astype(np.int32)
    size = spec.steps_per_epoch * spec.batch_size
    if size > spec.n_train:  # padding of the last batch: sample 0 with weight 0
        weights = (np.arange(size) < spec.n_train).astype(np.float32)
        order = np.concatenate([order, np.zeros(size - spec.n_train, np.int32)])
    else:
        weights = np.ones(size, np.float32)
        order = order[:size]
    shape = (spec.steps_per_epoch, spec.batch_size)
    return order.reshape(shape), weights.reshape(shape)


def epoch_orders(
    spec: RunSetSpec, seeds: Sequence[int], epoch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every seed's ``epoch_order``: indices ``[S, steps, B]`` and the weights ``[steps, B]``
    (the same for all seeds), the ``order`` argument of the epoch program."""
    orders = [epoch_order(spec, seed, epoch) for seed in seeds]
    return np.stack([indices for indices, _ in orders]), orders[0][1]


def init_states(
    spec: RunSetSpec, seeds: jax.Array, learning_rates: Sequence[jax.Array]
) -> tuple[GroupState, ...]:
    """Initial state of every group; the parameters depend on the seed only."""

    def per_seed(seed):
        variables = spec.model.init(
            jax.random.fold_in(jax.random.key(seed), 0),
            jnp.zeros((1, spec.input_width), jnp.float32),
        )
        states = []
        for build, rates in zip(spec.transforms, learning_rates, strict=True):
            params = _repeat(variables, rates.shape[0])
            opt_state = jax.vmap(lambda p, lr, build=build: build(lr).init(p))(params, rates)
            states.append((params, opt_state))
        return tuple(states)

    per_group = jax.vmap(per_seed)(seeds)
    shape = (seeds.shape[0],)
    return tuple(
        GroupState(
            params,
            opt_state,
            jnp.zeros((*shape, rates.shape[0]), bool),
            jnp.zeros((*shape, rates.shape[0]), jnp.int32),
        )
        for (params, opt_state), rates in zip(per_group, learning_rates, strict=True)
    )


def compile_init(
    spec: RunSetSpec,
    seeds: jax.Array,
    learning_rates: Sequence[jax.Array],
    out_shardings: Any = None,
) -> Callable[..., tuple[GroupState, ...]]:
    """``init_states`` compiled, with XLA's backend optimisations off; ``out_shardings``
    places the state (replicated over a mesh when data parallel), None lets jit choose.

    The initialiser's random-number code is large and runs once: unoptimised it compiles about
    4× faster (≈0.5 s instead of ≈2 s). Values can differ from an optimised build in the last
    bit (no fused multiply-adds), so the engine always initialises through this function.
    """
    shardings = {} if out_shardings is None else {"out_shardings": out_shardings}
    init = jax.jit(lambda s, r: init_states(spec, s, r), **shardings).lower(seeds, learning_rates)
    return init.compile(compiler_options=fast_compile_options())


FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def fast_compile_options() -> dict[str, Any] | None:
    """``FAST_COMPILE`` on CPU, where LLVM's optimisation dominates compile time; elsewhere the
    backend's defaults."""
    return FAST_COMPILE if jax.default_backend() == "cpu" else None


def evaluate_runs(
    spec: RunSetSpec, params: Any, opt_states: Any, images: jax.Array, labels: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Loss and accuracy ``[S, L]`` of a group's runs on a whole split of network inputs
    (``placement.device_splits`` preprocesses them once), each at the point its optimizer says
    to evaluate (``jol.eval_params``: the average x of a schedule-free optimizer, the
    parameters themselves for any other)."""

    n = images.shape[0]
    chunk = eval_chunk(n, spec.workload.eval_batch)

    def one(p, s):
        params, metrics = eval_params(s, p), spec.workload.metrics
        if chunk == n:
            return evaluate(spec.model.apply, params, images, labels, metrics)
        parts = (images.reshape(n // chunk, chunk, -1), labels.reshape(n // chunk, chunk))
        losses, accuracies = jax.lax.map(
            lambda part: evaluate(spec.model.apply, params, *part, metrics), parts
        )
        return jnp.mean(losses), jnp.mean(accuracies)  # equal chunks: the mean of the means

    seeds, rates = jax.tree.leaves(params)[0].shape[:2]
    return over_runs(over_runs(one, rates), seeds)(params, opt_states)


def eval_chunk(n: int, most: int | None) -> int:
    """Samples per evaluated chunk of a split of ``n``: all of them (``most`` None), else the
    largest divisor of ``n`` that is at most ``most``, so that every chunk has the same size."""
    if most is None or n <= most:
        return n
    return max(d for d in range(1, most + 1) if n % d == 0)


def make_epoch(spec: RunSetSpec) -> Callable[..., tuple[tuple[GroupState, ...], tuple[dict, ...]]]:
    """The epoch program ``(states, epoch, order, learning_rates, x_train, y_train, x_val,
    y_val) -> (states, metrics)``, to be jitted; ``epoch`` is 1-based, ``order`` is that epoch's
    ``epoch_orders`` (on the device), and ``metrics[g]`` holds ``train_loss``, ``val_loss`` and
    ``val_accuracy`` ``[S, L]``.
    """
    apply, loss = spec.model.apply, spec.workload.loss

    def runs_step(params, opt_states, learning_rates, x, y, w):
        new_params, new_states, sums = [], [], []
        for build, p, s, rates in zip(
            spec.transforms, params, opt_states, learning_rates, strict=True
        ):
            one = lambda p, s, lr, x, build=build: train_step(apply, build(lr), p, s, x, y, w, loss)  # noqa: E731
            if rates.shape[0] == 1:  # carried without its run axis (per_seed)
                p, s, loss_sum = one(p, s, rates[0], x)
                loss_sum = loss_sum[None]
            else:
                # Each run is handed the shared batch as its own: the model's products become
                # matmuls batched over the runs, which read and write the carried [L, 784, 128]
                # kernels. With x shared, XLA:CPU made x·W one [B, 784]·[784, L·128] matmul and
                # transposed the kernels and their gradient at every step (docs/benchmarks.md).
                xs = jnp.broadcast_to(x, (rates.shape[0], *x.shape))
                p, s, loss_sum = jax.vmap(one)(p, s, rates, xs)
            new_params.append(p)
            new_states.append(s)
            sums.append(loss_sum)
        return tuple(new_params), tuple(new_states), tuple(sums)

    def per_seed(indices, weights, params, opt_states, learning_rates, x_train, y_train):
        def body(carry, batch):
            params, opt_states, totals = carry
            idx, w = batch
            x = spec.workload.inputs(x_train[idx])
            if spec.batch_sharding is not None:
                # Keeps each device on its own samples through the step, so the only
                # communication is the gradient's all-reduce.
                x = jax.lax.with_sharding_constraint(x, spec.batch_sharding)
            params, opt_states, sums = runs_step(
                params, opt_states, learning_rates, x, y_train[idx], w
            )
            return (
                params,
                opt_states,
                tuple(t + s for t, s in zip(totals, sums, strict=True)),
            ), None

        # A group of one run is carried through the scan without its run axis: indexed and
        # re-expanded at every step, its leaves were copied before and after each update.
        single = tuple(r.shape[0] == 1 for r in learning_rates)
        totals = tuple(jnp.zeros(r.shape[0], jnp.float32) for r in learning_rates)
        carry = (_run_axis(params, single, drop=True), _run_axis(opt_states, single, drop=True))
        (params, opt_states, totals), _ = jax.lax.scan(
            body, (*carry, totals), (indices, weights), unroll=spec.unroll
        )
        return _run_axis(params, single), _run_axis(opt_states, single), totals

    def epoch_fn(states, epoch, order, learning_rates, x_train, y_train, x_val, y_val):
        indices, weights = order

        def seed_run(per_seed_args, shared):
            seed_indices, params, opt_states = per_seed_args
            weights, learning_rates, x_train, y_train = shared
            return per_seed(
                seed_indices, weights, params, opt_states, learning_rates, x_train, y_train
            )

        params, opt_states, totals = over_seeds(seed_run, indices.shape[0], spec.seed_mesh)(
            (indices, tuple(s.params for s in states), tuple(s.opt_state for s in states)),
            (weights, learning_rates, x_train, y_train),
        )
        new_states, metrics = [], []
        for g, state in enumerate(states):
            train_loss = totals[g] / spec.samples_per_epoch
            val_loss, val_accuracy = evaluate_runs(spec, params[g], opt_states[g], x_val, y_val)
            bad = ~(jnp.isfinite(train_loss) & jnp.isfinite(val_loss) & _finite(params[g]))
            diverged = state.diverged | bad
            new_states.append(
                GroupState(
                    _keep_where(diverged, state.params, params[g]),
                    _keep_where(diverged, state.opt_state, opt_states[g]),
                    diverged,
                    jnp.where(bad & ~state.diverged, epoch, state.diverged_epoch),
                )
            )
            metrics.append(
                {"train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_accuracy}
            )
        return tuple(new_states), tuple(metrics)

    return epoch_fn


def make_evaluate(spec: RunSetSpec) -> Callable[..., tuple[tuple[jax.Array, jax.Array], ...]]:
    """``(states, images, labels) -> ((loss, accuracy) [S, L] per group)``, to be jitted."""

    def evaluate_fn(states, images, labels):
        return tuple(evaluate_runs(spec, s.params, s.opt_state, images, labels) for s in states)

    return evaluate_fn


def over_seeds(
    fn: Callable[[Any, Any], Any], size: int, mesh: jax.sharding.Mesh | None = None
) -> Callable[[Any, Any], Any]:
    """``fn(tree, shared)`` over the leading seed axis of ``tree``; ``shared`` is the same for
    every seed.

    On CPU one seed after another (``lax.map``): each seed gathers its own batch, so a vmap
    makes every matmul a batched one with different data per run, which XLA's CPU backend ran
    20-25% slower than the same matmuls in sequence (five seeds: 99-100k vs 119-126k
    model-samples/s). On accelerators a vmap, which runs the seeds in parallel.

    With ``mesh``, the seeds are split over its ``"runs"`` axis (``jax.shard_map``, manual over
    that axis only): each device runs the above on its own size/R seeds, with no communication;
    the ``"data"`` axis, if any, stays with XLA's partitioner (the batch split).
    """
    if mesh is not None:
        runs = mesh.shape[RUNS]
        local = over_seeds(fn, size // runs)
        spec = jax.sharding.PartitionSpec(RUNS)
        return jax.shard_map(
            local,
            mesh=mesh,
            in_specs=(spec, jax.sharding.PartitionSpec()),
            out_specs=spec,
            axis_names=frozenset({RUNS}),
            check_vma=False,
        )
    if size != 1 and jax.default_backend() == "cpu":
        return lambda tree, shared: jax.lax.map(lambda t: fn(t, shared), tree)
    return lambda tree, shared: over_runs(lambda t: fn(t, shared), size)(tree)


def over_runs(fn: Callable[..., Any], size: int) -> Callable[..., Any]:
    """``jax.vmap(fn)`` over the leading axis (of size ``size``) of every argument; for size 1,
    index and re-expand.

    Same result, but an epoch loop vmapped over one run took ≈12% more CPU time than the same
    loop unbatched (784-128-10 MLP, 2-core CPU).
    """
    if size != 1:
        return jax.vmap(fn)

    def single(*args):
        inner = [jax.tree.map(lambda a: a[0], arg) for arg in args]
        return jax.tree.map(lambda a: a[None], fn(*inner))

    return single


def _run_axis(groups: tuple[Any, ...], single: tuple[bool, ...], drop: bool = False) -> Any:
    """Each group's tree with its leading run axis dropped (``drop``) or restored, for the
    groups marked ``single``; the others unchanged."""
    change = (lambda a: a[0]) if drop else (lambda a: a[None])
    return tuple(
        jax.tree.map(change, tree) if one else tree
        for tree, one in zip(groups, single, strict=True)
    )


def _repeat(tree: Any, count: int) -> Any:
    """Every leaf repeated along a new leading axis of size ``count``."""
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (count, *a.shape)), tree)


def _finite(tree: Any) -> jax.Array:
    """``[S, L]``: whether every entry of each run's leaves is finite."""
    checks = [
        jnp.all(jnp.isfinite(leaf), axis=tuple(range(2, leaf.ndim)))
        for leaf in jax.tree.leaves(tree)
        if jnp.issubdtype(leaf.dtype, jnp.inexact)
    ]
    return jnp.stack(checks).all(axis=0)


def _keep_where(frozen: jax.Array, old: Any, new: Any) -> Any:
    """Per run: ``old`` where ``frozen [S, L]`` else ``new``."""

    def pick(a, b):
        mask = frozen.reshape(frozen.shape + (1,) * (a.ndim - 2))
        return jnp.where(mask, a, b)

    return jax.tree.map(pick, old, new)

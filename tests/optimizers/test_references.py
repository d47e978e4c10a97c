"""The modern optimizers against their reference implementations, step by step in float64.

Every test runs ``STEPS`` = 100 steps from the same start on one pytree holding a tall (5 × 3)
and a wide (3 × 4) matrix and a vector (3,), with gradients ∇L = tanh(θ − c) + 0.2 θ³ computed
in NumPy at the current parameters and handed alike to both sides, and compares the whole
trajectory to ``|θ − θ_ref| ≤ ATOL + RTOL |θ_ref|`` with RTOL = 1e-9 and ATOL = 1e-12. The
differences seen are rounding: 0 to 2e-14 for Lion, AdEMAMix and schedule-free, up to 3e-13
for Muon, whose Newton–Schulz step multiplies small singular values by up to a⁵ ≈ 480 (its η is
0.005 here: from about 80 steps at η = 0.02 it oscillates about the optimum, where that
amplification makes rounding grow to 1e-7). The NumPy rules in ``tests/reference.py`` are
checked by the conformance kit.

- optax (always): ``optax.lion``; ``optax.contrib.muon`` without Nesterov, ε = 1e-12 (it
  bias-corrects the momentum, which only ε does not cancel), with its default dimension
  numbers (a 2-D leaf is (fan_in, fan_out), as here); ``optax.contrib.schedule_free_sgd`` and
  ``_adamw`` without warmup and r = 0; ``optax.contrib.ademamix`` with the paper's schedulers,
  written out below, as schedules of its 0-based count.
- PyTorch (skipped without the packages of the ``torch`` extra): ``lion_pytorch.Lion``;
  ``torch.optim.Muon`` on the matrices, transposed to torch's (out, in) layout, with its
  Newton–Schulz run in float64 (it casts to
  bfloat16) and ``torch.optim.AdamW`` on the vector, with ε = 1e-12 (torch divides by
  max(‖u‖, ε), this library by ‖u‖ + ε) and once with the default ε = 1e-7 (2.5e-8 apart at
  most: rtol 1e-5, atol 1e-7); ``schedulefree.SGDScheduleFree`` and
  ``AdamWScheduleFree`` with warmup, r and weight decay, and their ``.eval()`` parameters against
  ``jol.eval_params``.

Where a reference's convention cannot be matched, a test says so and checks the difference:
optax's schedule-free warmup starts one step earlier (η·t/W for its z step).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab as jol
from tests.optimizers import float64

STEPS = 100
RTOL, ATOL = 1e-9, 1e-12
TORCH_REASON = "needs the torch extra: pip install 'jaxopt_lab[torch]'"

_rng = np.random.default_rng(7)
START = {
    "tall": _rng.normal(size=(5, 3)),
    "wide": _rng.normal(size=(3, 4)),
    "bias": _rng.normal(size=3),
}
TARGET = {name: _rng.normal(size=leaf.shape) for name, leaf in START.items()}


def _grad(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∇L(θ) of L = Σ log cosh(θ − c) + 0.05 Σ θ⁴, leaf by leaf, in NumPy float64."""
    return float64.smooth_grad(params, TARGET)


def run_jax(optimizer: optax.GradientTransformation, steps: int = STEPS):
    """The trajectory [θ₀, …] of an optax transformation in float64, and its final state."""
    return float64.run_jax(optimizer, START, _grad, steps)


def run_torch(
    make: Callable[[dict[str, Any]], list[Any]], steps: int = STEPS, transposed: tuple = ()
):
    """The trajectory of torch optimizers built by ``make(parameters)``, and the parameters.

    The leaves named in ``transposed`` live in torch transposed, (out, in) for this library's
    (in, out), with their gradients; the trajectory is given back in this library's layout.
    """
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)

    def flip(name, array):
        return array.T if name in transposed else array

    params = {
        name: torch.nn.Parameter(torch.tensor(flip(name, leaf), dtype=torch.float64))
        for name, leaf in START.items()
    }

    def ours():
        return {name: flip(name, p.detach().numpy().copy()) for name, p in params.items()}

    optimizers = make(params)
    path = [START]
    for _ in range(steps):
        grads = _grad(ours())
        for name, p in params.items():
            p.grad = torch.tensor(flip(name, grads[name]).copy(), dtype=torch.float64)
        for optimizer in optimizers:
            optimizer.step()
        path.append(ours())
    return path, params


def assert_paths_close(actual, expected, rtol=RTOL, atol=ATOL):
    assert len(actual) == len(expected) == STEPS + 1
    for name in START:
        a = np.stack([point[name] for point in actual])
        e = np.stack([point[name] for point in expected])
        assert not np.allclose(e[-1], e[0]), f"{name} did not move"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name)


# Lion ------------------------------------------------------------------------------------------

LION = {"learning_rate": 3e-3, "b1": 0.85, "b2": 0.97, "weight_decay": 0.1}


def test_lion_matches_optax():
    ours, _, _ = run_jax(jol.lion(**LION))
    theirs, _, _ = run_jax(optax.lion(**LION))
    assert_paths_close(ours, theirs)


def test_lion_matches_lion_pytorch():
    lion_pytorch = pytest.importorskip("lion_pytorch", reason=TORCH_REASON)
    ours, _, _ = run_jax(jol.lion(**LION))
    theirs, _ = run_torch(
        lambda p: [
            lion_pytorch.Lion(
                p.values(),
                lr=LION["learning_rate"],
                betas=(LION["b1"], LION["b2"]),
                weight_decay=LION["weight_decay"],
            )
        ]
    )
    assert_paths_close(ours, theirs)


# Muon ------------------------------------------------------------------------------------------

MUON = {"learning_rate": 0.005, "momentum": 0.9, "ns_steps": 5, "weight_decay": 0.1}
ADAM = {"adam_learning_rate": 3e-3, "adam_b1": 0.85, "adam_b2": 0.99, "adam_weight_decay": 0.05}


@pytest.mark.parametrize("adjust_lr", ["original", "match_rms_adamw"])
def test_muon_without_nesterov_matches_optax_contrib_muon(adjust_lr):
    """optax's bias correction scales u by 1/(1 − βᵗ), which u/(‖u‖ + ε) cancels for ε → 0."""
    eps = 1e-12
    ours, _, _ = run_jax(
        jol.muon(**MUON, **ADAM, nesterov=False, eps=eps, adam_eps=eps, adjust_lr=adjust_lr)
    )
    theirs, _, _ = run_jax(
        optax.contrib.muon(
            MUON["learning_rate"],
            ns_steps=MUON["ns_steps"],
            beta=MUON["momentum"],
            eps=eps,
            weight_decay=MUON["weight_decay"],
            nesterov=False,
            adam_b1=ADAM["adam_b1"],
            adam_b2=ADAM["adam_b2"],
            adam_weight_decay=ADAM["adam_weight_decay"],
            adam_learning_rate=ADAM["adam_learning_rate"],
            consistent_rms=0.2 if adjust_lr == "match_rms_adamw" else None,
        )
    )
    assert_paths_close(ours, theirs)


def _torch_muon_in_float64(torch):
    """torch.optim.Muon's own Newton–Schulz, fed a tensor whose bfloat16() keeps float64."""
    from torch.optim import _muon

    class Float64(torch.Tensor):
        def bfloat16(self, *args, **kwargs):
            return self.as_subclass(torch.Tensor).clone()

    original = _muon._zeropower_via_newtonschulz

    @functools.wraps(original)
    def newton_schulz(grad, *args, **kwargs):
        return original(grad.as_subclass(Float64), *args, **kwargs).as_subclass(torch.Tensor)

    return newton_schulz


# torch divides by max(‖u‖_F, ε), this library by ‖u‖_F + ε: with ε = 1e-12 that is rounding;
# with the default ε = 1e-7 the paths part by 2.5e-8 at most here.
TORCH_MUON_CASES = [
    (True, "original", 1e-12, RTOL, ATOL),
    (False, "match_rms_adamw", 1e-12, RTOL, ATOL),
    (True, "original", 1e-7, 1e-5, 1e-7),
]


@pytest.mark.parametrize(("nesterov", "adjust_lr", "eps", "rtol", "atol"), TORCH_MUON_CASES)
def test_muon_matches_torch_optim_muon_with_adamw_on_the_vector(
    monkeypatch, nesterov, adjust_lr, eps, rtol, atol
):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    if not hasattr(torch.optim, "Muon"):
        pytest.skip(f"torch {torch.__version__} has no torch.optim.Muon (added in 2.9)")
    if not hasattr(torch.optim._muon, "_zeropower_via_newtonschulz"):
        pytest.skip(f"torch {torch.__version__} renamed Muon's Newton–Schulz (run in float64 here)")
    monkeypatch.setattr(
        torch.optim._muon, "_zeropower_via_newtonschulz", _torch_muon_in_float64(torch)
    )
    ours, _, _ = run_jax(jol.muon(**MUON, **ADAM, nesterov=nesterov, adjust_lr=adjust_lr, eps=eps))

    def make(params):
        muon = torch.optim.Muon(
            [params["tall"], params["wide"]],
            lr=MUON["learning_rate"],
            weight_decay=MUON["weight_decay"],
            momentum=MUON["momentum"],
            nesterov=nesterov,
            ns_steps=MUON["ns_steps"],
            eps=eps,
            adjust_lr_fn=adjust_lr,
        )
        adamw = torch.optim.AdamW(
            [params["bias"]],
            lr=ADAM["adam_learning_rate"],
            betas=(ADAM["adam_b1"], ADAM["adam_b2"]),
            eps=1e-8,
            weight_decay=ADAM["adam_weight_decay"],
        )
        return [muon, adamw]

    theirs, _ = run_torch(make, transposed=("tall", "wide"))
    assert_paths_close(ours, theirs, rtol=rtol, atol=atol)


# Schedule-free ---------------------------------------------------------------------------------

SCHEDULE_FREE_SGD = {"learning_rate": 0.05, "momentum": 0.85, "weight_decay": 0.01}
SCHEDULE_FREE_ADAMW = {"learning_rate": 0.02, "b1": 0.85, "b2": 0.99, "eps": 1e-7}
SCHEDULE_FREE_EXTRAS = {"warmup_steps": 10, "r": 0.5, "weight_lr_power": 1.5}


def test_schedule_free_sgd_matches_optax_without_warmup():
    ours, _, _ = run_jax(jol.schedule_free_sgd(**SCHEDULE_FREE_SGD))
    sgd = SCHEDULE_FREE_SGD
    theirs, _, _ = run_jax(
        optax.contrib.schedule_free_sgd(
            sgd["learning_rate"], b1=sgd["momentum"], weight_decay=sgd["weight_decay"]
        )
    )
    assert_paths_close(ours, theirs)


def test_schedule_free_adamw_matches_optax_without_warmup():
    ours, _, _ = run_jax(jol.schedule_free_adamw(**SCHEDULE_FREE_ADAMW, weight_decay=0.01))
    theirs, _, _ = run_jax(
        optax.contrib.schedule_free_adamw(**SCHEDULE_FREE_ADAMW, weight_decay=0.01)
    )
    assert_paths_close(ours, theirs)


def test_optax_schedule_free_warmup_starts_one_step_earlier():
    """optax's z step uses η·t/W (0 at the first step), this library and schedulefree η(t+1)/W."""
    ours, _, _ = run_jax(jol.schedule_free_sgd(**SCHEDULE_FREE_SGD, warmup_steps=10), steps=1)
    sgd = SCHEDULE_FREE_SGD
    theirs, _, _ = run_jax(
        optax.contrib.schedule_free_sgd(
            sgd["learning_rate"],
            warmup_steps=10,
            b1=sgd["momentum"],
            weight_decay=sgd["weight_decay"],
        ),
        steps=1,
    )
    moved = ours[1]["bias"] - START["bias"]
    assert np.allclose(theirs[1]["bias"], START["bias"], rtol=0, atol=1e-15)  # η₀ = 0 in optax
    assert not np.allclose(moved, 0)


def test_schedule_free_sgd_matches_the_schedulefree_package_and_its_eval_point():
    schedulefree = pytest.importorskip("schedulefree", reason=TORCH_REASON)
    ours, state, params = run_jax(
        jol.schedule_free_sgd(**SCHEDULE_FREE_SGD, **SCHEDULE_FREE_EXTRAS)
    )
    sgd = SCHEDULE_FREE_SGD
    optimizers = []

    def make(p):
        optimizer = schedulefree.SGDScheduleFree(
            p.values(),
            lr=sgd["learning_rate"],
            momentum=sgd["momentum"],
            weight_decay=sgd["weight_decay"],
            **SCHEDULE_FREE_EXTRAS,
        )
        optimizer.train()
        optimizers.append(optimizer)
        return optimizers

    theirs, torch_params = run_torch(make)
    assert_paths_close(ours, theirs)
    _assert_eval_points_close(state, params, optimizers[0], torch_params)


def test_schedule_free_adamw_matches_the_schedulefree_package_and_its_eval_point():
    schedulefree = pytest.importorskip("schedulefree", reason=TORCH_REASON)
    hyperparameters = {**SCHEDULE_FREE_ADAMW, **SCHEDULE_FREE_EXTRAS, "weight_decay": 0.01}
    ours, state, params = run_jax(jol.schedule_free_adamw(**hyperparameters))
    adamw = SCHEDULE_FREE_ADAMW
    optimizers = []

    def make(p):
        optimizer = schedulefree.AdamWScheduleFree(
            p.values(),
            lr=adamw["learning_rate"],
            betas=(adamw["b1"], adamw["b2"]),
            eps=adamw["eps"],
            weight_decay=0.01,
            **SCHEDULE_FREE_EXTRAS,
        )
        optimizer.train()
        optimizers.append(optimizer)
        return optimizers

    theirs, torch_params = run_torch(make)
    assert_paths_close(ours, theirs)
    _assert_eval_points_close(state, params, optimizers[0], torch_params)


def _assert_eval_points_close(state, params, torch_optimizer, torch_params):
    """``jol.eval_params`` gives the x that the package's ``.eval()`` swaps into the model."""
    with jax.enable_x64(True):
        x = jol.eval_params(state, params)
    torch_optimizer.eval()
    for name, p in torch_params.items():
        np.testing.assert_allclose(np.asarray(x[name]), p.detach().numpy(), rtol=RTOL, atol=ATOL)
        assert not np.allclose(np.asarray(x[name]), np.asarray(params[name]))  # x ≠ y


# AdEMAMix --------------------------------------------------------------------------------------

ADEMAMIX = {"learning_rate": 0.01, "b1": 0.85, "b2": 0.99, "b3": 0.995, "alpha": 4.0}
ADEMAMIX_WARMUP = {"b3_warmup": 40, "alpha_warmup": 60}


def _paper_b3(t, b1=ADEMAMIX["b1"], b3=ADEMAMIX["b3"], warmup=ADEMAMIX_WARMUP["b3_warmup"]):
    """The paper's linear_hl_warmup_scheduler at the 1-based step t (without its 1e-8)."""
    f_start = jnp.log(0.5) / jnp.log(b1) - 1
    f_end = jnp.log(0.5) / jnp.log(b3) - 1
    a = t / warmup
    return jnp.where(t < warmup, 0.5 ** (1 / ((1 - a) * f_start + a * f_end + 1)), b3)


def _paper_alpha(t, alpha=ADEMAMIX["alpha"], warmup=ADEMAMIX_WARMUP["alpha_warmup"]):
    """The paper's linear_warmup_scheduler at the 1-based step t."""
    return jnp.where(t < warmup, t / warmup * alpha, alpha)


@pytest.mark.parametrize("warmup", [False, True])
def test_ademamix_matches_optax_contrib_ademamix(warmup):
    ours, _, _ = run_jax(
        jol.ademamix(**ADEMAMIX, **(ADEMAMIX_WARMUP if warmup else {}), weight_decay=0.05)
    )
    schedules = {}
    if warmup:  # optax calls them with its 0-based count
        schedules = {"b3": lambda c: _paper_b3(c + 1.0), "alpha": lambda c: _paper_alpha(c + 1.0)}
    theirs, _, _ = run_jax(optax.contrib.ademamix(**{**ADEMAMIX, **schedules}, weight_decay=0.05))
    assert_paths_close(ours, theirs)

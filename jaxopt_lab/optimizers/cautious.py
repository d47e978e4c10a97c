"""Cautious optimizers: drop the entries of an update that disagree in sign with the gradient.

    d, s ← inner(g, s, θ)                       d: the inner transformation's output
    a = 1[d_i g_i > 0]  ("direction": d points along g, as ``scale_by_adam``'s output)
      = 1[d_i g_i < 0]  ("step": d is the increment θ += d, as ``adamw(η)``'s output −η·…)
    d ← d ⊙ a · r,   r = n / (Σ a + 1)  ("count")   or   r = 1 / max(Σ a / n, 10⁻³)  ("mean")

per leaf of n entries (a 4-D kernel, a bias and a scalar alike), a step of the masked entries
scaled up so that its size stays about that of the full update.

Reference: Liang, Chen, Liu & Liu (2024), "Cautious optimizers: improving training with one
line of code", arXiv:2411.16085; the authors' code github.com/kyleliang919/C-Optim
(``c_lion.py``, ``c_adamw.py``).

Conventions. The agreement test is on signs (the product d·g is not formed, so it cannot
underflow in float16); an entry where d or g is 0 counts as disagreeing, as in the authors'
``> 0``. A NaN in d stays NaN (it is multiplied by the mask, not replaced). ``rescale="count"``
is the paper's Algorithm (ε·d/(nnz(ϕ) + 1)), the authors' ``c_lion.py`` and
``pytorch_optimizer``'s ``apply_cautious`` (4.1.0); ``"mean"`` is what the authors' current
``c_adamw.py`` does (``mask / mask.mean().clamp(min=1e-3)``, from timm). They differ most on
small leaves: a scalar whose update agrees is halved by "count", kept by "mean".

Weight decay sits **outside** the mask in the authors' code and in ``pytorch_optimizer``: θ is
first multiplied by 1 − ηλ, then the masked direction is taken. ``cautious`` wraps whatever it
is given, so ``cautious(adamw(η, weight_decay=λ))`` tests and rescales d + λθ as a whole; the
authors' placement is ``cautious_adamw``/``cautious_lion`` below, or for any other direction

    optax.chain(cautious(scale_by_x(...), output="direction"),
                add_decayed_weights(λ), scale_by_learning_rate(η)).

``cautious_adamw`` is ``adamw``'s rule (ε outside √v̂, as ``torch.optim.AdamW`` and
``pytorch_optimizer``), not the authors' ``c_adamw.py``, which puts ε outside the uncorrected
√v (the Hugging Face form). The state is the inner transformation's, unchanged, so
``jol.eval_params`` finds a schedule-free state inside. Wrapping a whole schedule-free
optimizer masks its interpolation step c(z − y) too, so y no longer lies between x and z
(``eval_params`` then returns no average of z); mask its base direction instead:
``schedule_free(cautious(direction, output="direction"), η)``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import ScalarOrSchedule, check_choice, scale_by_learning_rate
from jaxopt_lab.optimizers.adam import scale_by_adam
from jaxopt_lab.optimizers.adamw import add_decayed_weights
from jaxopt_lab.optimizers.lion import scale_by_lion

OUTPUTS = ("step", "direction")
RESCALES = ("count", "mean")


def caution_mask(update: jax.Array, grad: jax.Array, output: str, rescale: str) -> jax.Array:
    """a · r for one leaf (module docstring), in JAX's default float type."""
    signs = jnp.sign(update) * jnp.sign(grad)
    agree = signs > 0 if output == "direction" else signs < 0
    dtype = jnp.result_type(float)
    count = jnp.sum(agree, dtype=dtype)
    if rescale == "count":
        scale = update.size / (count + 1)
    else:
        scale = 1 / jnp.maximum(count / max(update.size, 1), 1e-3)
    return jnp.where(agree, scale, 0).astype(dtype)


def cautious(
    inner: optax.GradientTransformation, output: str = "step", rescale: str = "count"
) -> optax.GradientTransformationExtraArgs:
    """``inner`` with the entries of its output that disagree with the gradient zeroed.

    Args:
      inner: any optax transformation (this library's, optax's, a chain).
      output: "step" (default) when ``inner`` returns the increment added to θ (a whole
        optimizer: −η·direction), "direction" when it returns a direction along g (a
        ``scale_by_*`` block, before the learning rate).
      rescale: "count" (default, n / (Σa + 1)) or "mean" (1 / max(mean a, 10⁻³)).

    The state is ``inner``'s; extra arguments of ``update`` are passed on to ``inner``.
    """
    check_choice("output", output, OUTPUTS)
    check_choice("rescale", rescale, RESCALES)
    inner = optax.with_extra_args_support(inner)

    def update_fn(updates, state, params=None, **extra_args):
        new_updates, state = inner.update(updates, state, params, **extra_args)
        masked = jax.tree.map(
            lambda u, g: (u * caution_mask(u, g, output, rescale)).astype(u.dtype),
            new_updates,
            updates,
        )
        return masked, state

    return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def cautious_adamw(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    rescale: str = "count",
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Cautious AdamW: θ ← θ − η (m̂/(√v̂ + ε) ⊙ a · r + λ θ), a = 1[m g > 0], decay unmasked.

    Args: as ``adamw`` (λ default 1e-2), and ``rescale`` as ``cautious``.
    """
    return optax.chain(
        cautious(scale_by_adam(b1, b2, eps, mu_dtype, nu_dtype), "direction", rescale),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )


def cautious_lion(
    learning_rate: ScalarOrSchedule = 1e-4,
    b1: float = 0.9,
    b2: float = 0.99,
    weight_decay: float = 0.0,
    rescale: str = "count",
) -> optax.GradientTransformation:
    """Cautious Lion: θ ← θ − η (c ⊙ a · r + λ θ), c = sign(β₁ m + (1 − β₁) g), a = 1[c g > 0].

    Args: as ``lion`` (η default 1e-4, λ default 0), and ``rescale`` as ``cautious``.
    """
    return optax.chain(
        cautious(scale_by_lion(b1, b2), "direction", rescale),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )

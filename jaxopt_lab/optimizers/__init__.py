"""Optimizers as optax gradient transformations: one module per algorithm.

Parameters must be real floating-point arrays (float16, bfloat16, float32, float64): ``init``
raises ``TypeError`` naming the leaf otherwise. Integer parameters cannot take a step of η·g;
complex parameters are not supported (optax's conjugate convention for complex gradients is
not followed).
"""

from jaxopt_lab.optimizers._base import scale_by_learning_rate
from jaxopt_lab.optimizers.adadelta import ScaleByAdadeltaState, adadelta, scale_by_adadelta
from jaxopt_lab.optimizers.adagrad import ScaleByAdagradState, adagrad, scale_by_adagrad
from jaxopt_lab.optimizers.adam import ScaleByAdamState, adam, scale_by_adam
from jaxopt_lab.optimizers.adamw import adamw, add_decayed_weights
from jaxopt_lab.optimizers.ademamix import ScaleByAdemamixState, ademamix, scale_by_ademamix
from jaxopt_lab.optimizers.cautious import cautious, cautious_adamw, cautious_lion
from jaxopt_lab.optimizers.flat import flat
from jaxopt_lab.optimizers.kron import ScaleByKronState, kron, scale_by_kron
from jaxopt_lab.optimizers.lion import ScaleByLionState, lion, scale_by_lion
from jaxopt_lab.optimizers.mars import ScaleByMarsState, mars, scale_by_mars
from jaxopt_lab.optimizers.momentum import (
    MomentumState,
    ScaleByMomentumState,
    momentum,
    scale_by_momentum,
)
from jaxopt_lab.optimizers.muon import ScaleByMuonState, muon, newton_schulz, scale_by_muon
from jaxopt_lab.optimizers.nadam import nadam, scale_by_nadam
from jaxopt_lab.optimizers.nadamw import ScaleByNadamwState, nadamw, scale_by_nadamw
from jaxopt_lab.optimizers.nesterov import nesterov, scale_by_nesterov
from jaxopt_lab.optimizers.registry import (
    OPTIMIZERS,
    get_optimizer,
    hyperparameter_names,
    register_optimizer,
)
from jaxopt_lab.optimizers.rmsprop import ScaleByRmspropState, rmsprop, scale_by_rmsprop
from jaxopt_lab.optimizers.schedule_free import (
    ScaleByRmsState,
    ScheduleFreeState,
    eval_params,
    scale_by_bias_corrected_rms,
    schedule_free,
    schedule_free_adamw,
    schedule_free_sgd,
)
from jaxopt_lab.optimizers.sgd import sgd
from jaxopt_lab.optimizers.soap import ScaleBySoapState, scale_by_soap, soap

__all__ = [
    "OPTIMIZERS",
    "MomentumState",
    "ScaleByAdadeltaState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByAdemamixState",
    "ScaleByKronState",
    "ScaleByLionState",
    "ScaleByMarsState",
    "ScaleByMomentumState",
    "ScaleByMuonState",
    "ScaleByNadamwState",
    "ScaleByRmsState",
    "ScaleByRmspropState",
    "ScaleBySoapState",
    "ScheduleFreeState",
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "ademamix",
    "cautious",
    "cautious_adamw",
    "cautious_lion",
    "eval_params",
    "flat",
    "get_optimizer",
    "hyperparameter_names",
    "kron",
    "lion",
    "mars",
    "momentum",
    "muon",
    "nadam",
    "nadamw",
    "nesterov",
    "newton_schulz",
    "register_optimizer",
    "rmsprop",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_ademamix",
    "scale_by_bias_corrected_rms",
    "scale_by_kron",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_mars",
    "scale_by_momentum",
    "scale_by_muon",
    "scale_by_nadam",
    "scale_by_nadamw",
    "scale_by_nesterov",
    "scale_by_rmsprop",
    "scale_by_soap",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_sgd",
    "sgd",
    "soap",
]

import jax
import numpy as np
import pytest

from jaxopt_lab.config import ModelConfig
from jaxopt_lab.model import count_flops_per_sample, init_params, make_model


def _layers(init: str, seed: int = 0):
    model = make_model(ModelConfig(hidden_sizes=[128], init=init))
    params = init_params(model, jax.random.key(seed))["params"]
    return [params["Dense_0"], params["Dense_1"]]


@pytest.mark.parametrize("layer, fan_in", [(0, 784), (1, 128)])
def test_torch_init_is_uniform_within_one_over_sqrt_fan_in(layer, fan_in):
    bound = 1 / np.sqrt(fan_in)
    dense = _layers("torch")[layer]
    for name in ("kernel", "bias"):
        values = np.asarray(dense[name]).ravel()
        assert np.abs(values).max() <= bound
        # Uniform on [-b, b]: it reaches close to the bound, mean 0, std b/√3.
        assert np.abs(values).max() > 0.9 * bound
        if values.size > 1000:
            standard_error = bound / np.sqrt(3 * values.size)
            assert abs(values.mean()) < 5 * standard_error
            assert values.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)


def test_flax_init_has_zero_bias_and_lecun_scale():
    dense = _layers("flax")[0]
    assert np.all(np.asarray(dense["bias"]) == 0)
    assert np.asarray(dense["kernel"]).std() == pytest.approx(1 / np.sqrt(784), rel=0.05)


def test_hidden_sizes_and_activation_shape_the_network():
    model = make_model(ModelConfig(hidden_sizes=[64, 32], activation="tanh"))
    variables = init_params(model, jax.random.key(0))
    shapes = [leaf.shape for leaf in jax.tree.leaves(variables)]
    assert sorted(shapes) == sorted([(64,), (784, 64), (32,), (64, 32), (10,), (32, 10)])
    logits = model.apply(variables, np.zeros((5, 784), np.float32))
    assert logits.shape == (5, 10)


def test_flops_per_sample_of_the_notebook_mlp():
    assert count_flops_per_sample(ModelConfig()) == 4 * (784 * 128 + 128 * 10) + 2 * 128 * 10

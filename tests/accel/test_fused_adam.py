"""PyTorch and TensorFlow: Keras's Adam steps through the backend's fused kernel with Keras's
own weights and moments."""

import importlib

import keras
import numpy as np
import pytest

from tests.helpers import routes_restored

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(BACKEND == "jax", reason="routes PyTorch and TensorFlow only (XLA fuses JAX's own)")
#: the route's module on this backend
ROUTE = importlib.import_module({"torch": "kerasseq.accel.torch_fused_adam"}.get(BACKEND, "kerasseq.accel.tf_adam"))
STEPS = 5


@pytest.fixture
def keras_steps(monkeypatch):
    """How many update steps the route left to Keras's own code."""
    calls, keras_step = [], ROUTE._keras_update_step
    monkeypatch.setattr(ROUTE, "_keras_update_step", lambda *a: calls.append(1) or keras_step(*a))
    return calls


def trained(routed, amsgrad=False, dtype="float32"):
    """Weights and moments after ``STEPS`` Adam steps on fixed gradients, the route on if
    ``routed``, from the same start: epsilon is large, so that where it is added counts."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape), dtype=dtype) for shape in ((3, 4), (4,), (2, 2, 5))]
    gradients = [[keras.ops.convert_to_tensor(rng.normal(size=v.shape), dtype) for v in variables] for _ in range(STEPS)]
    optimizer = keras.optimizers.Adam(learning_rate=0.05, epsilon=0.3, amsgrad=amsgrad)
    with routes_restored():
        ROUTE.use_fused_adam(routed)
        for step_gradients in gradients:
            optimizer.apply(step_gradients, variables)
    moments = optimizer._momentums + optimizer._velocities + (optimizer._velocity_hats if amsgrad else [])
    return [keras.ops.convert_to_numpy(v) for v in variables + moments]


def assert_close(got, expected, atol=1e-6):
    assert len(got) == len(expected)
    for got_value, expected_value in zip(got, expected):
        np.testing.assert_allclose(got_value, expected_value, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_steps_give_keras_weights_and_moments(keras_steps, amsgrad):
    keras_results = trained(False, amsgrad)
    assert keras_steps == []  # the route off: Keras's own step runs, not reached through the route
    assert_close(trained(True, amsgrad), keras_results)
    # PyTorch's kernel has AMSGrad; TensorFlow's does not, so that is left to Keras (once per variable)
    assert len(keras_steps) == (3 * STEPS if amsgrad and BACKEND == "tensorflow" else 0)


def test_a_compiled_model_trains_as_with_keras_adam(keras_steps):
    def fit(routed):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
        rng = np.random.default_rng(1)
        with routes_restored():
            ROUTE.use_fused_adam(routed)
            model.fit(rng.normal(size=(32, 6)), rng.normal(size=(32, 2)), batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model.get_weights()

    assert_close(fit(True), fit(False), atol=1e-5)  # rounding differences grow over 8 steps through the network
    assert keras_steps == []


def test_other_dtypes_stay_on_keras_step(keras_steps):
    routed = trained(True, dtype="float64")
    assert len(keras_steps) == STEPS * (3 if BACKEND == "tensorflow" else 1)  # per variable, or per step for all
    np.testing.assert_array_equal(routed[0], trained(False, dtype="float64")[0])

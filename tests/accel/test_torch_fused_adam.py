"""PyTorch on a CPU: Keras's Adam steps through PyTorch's fused kernel with Keras's own results."""

import keras
import numpy as np
import pytest

from tests.helpers import routes_restored

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="routes the PyTorch backend only")


@pytest.fixture
def fused_calls(monkeypatch):
    """How many times PyTorch's fused Adam kernel ran."""
    import torch

    calls, kernel = [], torch._fused_adam_
    monkeypatch.setattr(torch, "_fused_adam_", lambda *a, **k: calls.append(len(a[0])) or kernel(*a, **k))
    return calls


def trained(fused, amsgrad, dtype="float32", steps=5):
    """Weights and moments after ``steps`` Adam steps on fixed gradients (the route on if
    ``fused``), from the same start: epsilon is large, so that where it is added counts."""
    from kerasseq.accel.torch_fused_adam import use_fused_adam

    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape), dtype=dtype) for shape in ((3, 4), (4,), (2, 2, 5))]
    gradients = [[keras.ops.convert_to_tensor(rng.normal(size=v.shape), dtype) for v in variables] for _ in range(steps)]
    optimizer = keras.optimizers.Adam(learning_rate=0.05, epsilon=0.3, amsgrad=amsgrad)
    with routes_restored():
        use_fused_adam(fused)
        for step_gradients in gradients:
            optimizer.apply(step_gradients, variables)
    moments = optimizer._momentums + optimizer._velocities + (optimizer._velocity_hats if amsgrad else [])
    return [keras.ops.convert_to_numpy(v) for v in variables + moments]


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_steps_give_keras_weights_and_moments(fused_calls, amsgrad):
    keras_results = trained(False, amsgrad)
    assert fused_calls == []
    fused_results = trained(True, amsgrad)
    assert fused_calls == [3] * 5  # one kernel call a step for all three variables
    for got, expected in zip(fused_results, keras_results, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_other_dtypes_stay_on_keras_step(fused_calls):
    results = trained(True, False, dtype="float64")
    assert fused_calls == []
    np.testing.assert_array_equal(results[0], trained(False, False, dtype="float64")[0])

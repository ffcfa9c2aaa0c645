"""JAX on a CPU: max pooling as a reshaped max, with Keras's own outputs and gradients."""

import keras
import numpy as np
import pytest

from tests.helpers import jax_outputs_and_gradients

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="routes the JAX backend only")


@pytest.fixture
def keras_pool_calls(monkeypatch):
    from kerasseq.accel import jax_cpu_pooling, keras_routes

    jax_cpu_pooling.use_reshape_max_pool()  # as kerasseq.accel.enable() does
    calls, keras_pool = [], keras_routes.keras_op("max_pool")
    monkeypatch.setitem(keras_routes.KERAS_OPS, "max_pool", lambda *a, **k: calls.append(a[1]) or keras_pool(*a, **k))
    return calls


def pooling_model(*poolings):
    keras.utils.set_random_seed(3)
    images = keras.Input((8, 12, 2))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(images)
    for pool_size, strides, padding in poolings:
        features = keras.layers.MaxPooling2D(pool_size, strides, padding)(features)
    return keras.Model(images, keras.layers.Dense(3)(features))


def test_tiling_windows_give_keras_outputs_and_gradients_without_its_pooling(keras_pool_calls):
    from kerasseq.accel.jax_cpu_pooling import use_reshape_max_pool

    model = pooling_model(((2, 2), None, "valid"), ((2, 1), (2, 1), "valid"))
    inputs = np.random.default_rng(0).normal(size=(3, 8, 12, 2)).astype("float32")
    try:
        use_reshape_max_pool(False)
        keras_result = jax_outputs_and_gradients(model, inputs)
    finally:
        use_reshape_max_pool()
    keras_pool_calls.clear()
    reshaped = jax_outputs_and_gradients(model, inputs)
    assert keras_pool_calls == []
    assert reshaped[0].shape == (3, 2, 6, 3)
    for got, expected in zip(reshaped, keras_result, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pool_size, strides, padding", [((2, 2), (1, 1), "valid"), ((3, 3), None, "valid"),
                                                         ((2, 2), None, "same")])
def test_windows_that_overlap_miss_or_pad_stay_with_keras(keras_pool_calls, pool_size, strides, padding):
    model = pooling_model((pool_size, strides, padding))
    model(np.ones((1, 8, 12, 2), "float32"))
    assert keras_pool_calls == [pool_size]


def test_the_crnn_pools_without_keras_pooling(keras_pool_calls):
    from kerasseq.ocr.recognizer import build_crnn

    model = build_crnn("small", charset="digits")
    model(np.zeros((1, 32, 128, 1), "float32"))
    assert keras_pool_calls == [] and sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 4

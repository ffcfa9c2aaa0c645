"""PyTorch: a functional model's inference through direct layer calls gives Keras's own outputs."""

import keras
import numpy as np
import pytest

from kerasseq.ocr.recognizer import build_crnn
from tests.helpers import routes_restored

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="routes the PyTorch backend only")


@pytest.fixture
def route():
    """The route's switch, the trace's route off; the suite's setting is restored afterwards."""
    from kerasseq.accel import torch_inference

    with routes_restored():
        torch_inference.use_traced_inference(False)
        yield torch_inference.use_lean_inference


@pytest.fixture
def called_layers(monkeypatch):
    """The layers whose ``Layer.__call__`` ran, in order."""
    calls, keras_call = [], keras.layers.Layer.__call__
    monkeypatch.setattr(keras.layers.Layer, "__call__", lambda self, *a, **k: calls.append(self) or keras_call(self, *a, **k))
    return calls


def predictions(model, inputs, route, routed):
    route(routed)
    return keras.ops.convert_to_numpy(model.predict_on_batch(inputs))


@pytest.mark.parametrize("precision,batch", [("float32", 4), ("mixed_bfloat16", 4), ("float32", 1)])
def test_the_crnn_reads_the_same_without_calling_its_layers_through_keras(route, called_layers, precision, batch):
    keras.utils.set_random_seed(0)
    model = build_crnn("small", precision=precision)  # dropout, batch normalisation, bidirectional LSTMs
    images = np.random.default_rng(0).uniform(size=(batch, 32, 128, 1)).astype("float32")
    expected = predictions(model, images, route, False)
    assert set(called_layers) >= set(model.layers[1:])  # Keras's own path: every layer through __call__
    called_layers.clear()
    got = predictions(model, images, route, True)
    assert not set(called_layers) & set(model.layers)
    assert got.shape == expected.shape and got.dtype == expected.dtype and np.array_equal(got, expected)


def test_training_and_recorded_gradients_are_left_to_keras(route, called_layers):
    import torch

    model = build_crnn("small")
    route(True)
    called_layers.clear()  # those of building the model
    model(torch.zeros(2, 32, 128, 1), training=False)  # outside predict, gradients are recorded
    model(torch.zeros(2, 32, 128, 1), training=True)
    assert called_layers.count(model.layers[1]) == 2


def test_a_model_that_makes_a_mask_is_left_to_keras(route):
    # an embedding's mask makes the LSTM skip padding; called directly, the LSTM would not see it
    keras.utils.set_random_seed(0)
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    model = keras.Model(tokens, keras.layers.LSTM(3)(x))
    padded = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 0, 0, 0, 0]], "int32")
    assert np.array_equal(predictions(model, padded, route, True), predictions(model, padded, route, False))
    assert np.allclose(predictions(model, padded, route, False), predictions(model, padded[:, :3], route, False), atol=1e-6)

"""PyTorch: weights' casts and layouts made once per weight value at inference, with Keras's own outputs."""

import keras
import numpy as np
import pytest

from kerasseq.ocr.recognizer import build_crnn
from tests.helpers import routes_restored

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="routes the PyTorch backend only")


@pytest.fixture
def cache():
    """The route's switch, with the other PyTorch routes on as the scripts have them but
    the trace's (which reads no weights after recording); the suite's setting is restored
    afterwards."""
    from kerasseq import accel
    from kerasseq.accel import torch_weight_cache

    with routes_restored():
        accel.enable(["fused_lstm", "channels_last", "fused_batchnorm", "lean_inference"])
        accel.disable(["traced_inference"])
        yield torch_weight_cache.use_weight_cache


@pytest.fixture
def weight_makers(monkeypatch):
    """Counts of the weight casts and LSTM weight preparations that Keras's own code makes."""
    import importlib

    from keras.src.backend.torch import core

    from kerasseq.accel.keras_routes import keras_original

    rnn = importlib.import_module("keras.src.backend.torch.rnn")  # the module, not its rnn function
    counts = {"cast": 0, "lstm": 0}
    keras_cast, keras_prepare = keras_original(core.Variable, "_maybe_autocast"), keras_original(rnn, "prepare_lstm_params")

    def cast(self, value):
        cast_value = keras_cast(self, value)
        counts["cast"] += cast_value is not value  # a new tensor: a cast made
        return cast_value

    def prepare(*args):
        counts["lstm"] += 1
        return keras_prepare(*args)

    from kerasseq.accel import keras_routes

    monkeypatch.setitem(keras_routes.KERAS_ORIGINALS, (core.Variable, "_maybe_autocast"), cast)
    monkeypatch.setitem(keras_routes.KERAS_ORIGINALS, (rnn, "prepare_lstm_params"), prepare)
    return counts


def read(model, images):
    return keras.ops.convert_to_numpy(model.predict_on_batch(images))


def test_a_mixed_crnn_reads_as_keras_does_and_makes_its_weights_once(cache, weight_makers):
    keras.utils.set_random_seed(0)
    model = build_crnn("small", precision="mixed_bfloat16")
    images = np.random.default_rng(0).uniform(size=(4, 32, 128, 1)).astype("float32")
    cache(False)
    expected = read(model, images)
    cache(True)
    weight_makers.update(cast=0, lstm=0)
    first = read(model, images)
    made = dict(weight_makers)
    assert made["cast"] >= 20 and made["lstm"] == 4  # 7 kernels, biases, LSTM weights; 4 LSTM directions
    second = read(model, images)
    assert weight_makers == made  # the second batch makes nothing
    assert np.array_equal(first, expected) and np.array_equal(second, expected)


def test_changed_weights_are_made_again(cache):
    keras.utils.set_random_seed(0)
    model = build_crnn("small", precision="mixed_bfloat16")
    images = np.random.default_rng(1).uniform(size=(4, 32, 128, 1)).astype("float32")
    cache(True)
    read(model, images)  # kept
    model.set_weights([w * 1.5 for w in model.get_weights()])  # Variable.assign: in place
    got = read(model, images)
    cache(False)
    assert np.array_equal(got, read(model, images))


def test_training_makes_weights_afresh_so_gradients_reach_the_variables(cache, weight_makers):
    import torch

    keras.utils.set_random_seed(0)
    model = build_crnn("small", precision="mixed_bfloat16")
    cache(True)
    for _ in range(2):
        outputs = model(torch.rand(2, 32, 128, 1), training=True)
    made = dict(weight_makers)
    outputs.float().sum().backward()
    kernel = model.get_layer("conv1").kernel.value
    assert kernel.grad is not None and torch.count_nonzero(kernel.grad) > 0
    model(torch.rand(2, 32, 128, 1), training=True)
    assert weight_makers["cast"] > made["cast"] and weight_makers["lstm"] == made["lstm"] + 4


def test_a_trace_records_the_weights_it_reads_instead_of_taking_kept_ones(cache):
    import torch

    from kerasseq.accel.torch_weight_cache import derived

    cache(True)
    weight = torch.ones(3)
    with torch.no_grad():
        derived((weight,), "doubled", lambda: weight * 2)  # kept for this weight
        # a kept tensor would enter the trace as a constant: the trace must make it from its input
        doubled = torch.jit.trace(lambda w: derived((w,), "doubled", lambda: w * 2), (weight,))
        assert torch.equal(doubled(torch.full((3,), 5.0)), torch.full((3,), 10.0))

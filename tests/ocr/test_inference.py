"""The reading path: uint8 canvases in, the model's probabilities out, on every backend."""

import keras
import numpy as np
import pytest

from kerasseq.ocr.images import normalise
from kerasseq.ocr.inference import predict_probabilities
from kerasseq.ocr.recognizer import build_crnn
from kerasseq.training.trainer import compile_recognizer


def canvases(count, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 128, 1), dtype=np.uint8)


@pytest.mark.parametrize("count", [5, 70])
def test_probabilities_are_the_models_output_on_the_scaled_canvases(count):
    keras.utils.set_random_seed(0)
    model = build_crnn("small", charset="digits")
    images = canvases(count)
    probabilities = predict_probabilities(model, images, batch_size=32)  # 70: three batches, the last padded
    expected = keras.ops.convert_to_numpy(model(normalise(images), training=False))
    assert probabilities.shape == (count, 31, 11) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, expected, atol=2e-5)


def test_probabilities_follow_weights_changed_after_the_first_call():
    keras.utils.set_random_seed(0)
    model, other = build_crnn("small", charset="digits"), build_crnn("small", charset="digits")
    images = canvases(8)
    before = predict_probabilities(model, images)
    model.set_weights(other.get_weights())
    after = predict_probabilities(model, images)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, predict_probabilities(other, images), atol=2e-5)


def test_a_callback_in_the_middle_of_fit_reads_with_the_weights_of_the_last_step():
    # JAX's fit keeps the weights off the model between steps; a callback's ``self.model``
    # attaches them, and the jitted forward must read those, not the ones it first saw
    class ReadAfterEachBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.read = predict_probabilities(self.model, images)

    keras.utils.set_random_seed(0)
    model = compile_recognizer(build_crnn("small", charset="digits"), learning_rate=0.05)
    images, labels = canvases(16), np.ones((16, 4), np.int32)
    untrained = predict_probabilities(model, images)
    reader = ReadAfterEachBatch()
    model.fit(normalise(images), labels, batch_size=16, epochs=1, verbose=0, callbacks=[reader])
    assert np.abs(reader.read - untrained).max() > 1e-3
    np.testing.assert_allclose(reader.read, predict_probabilities(model, images), atol=2e-5)

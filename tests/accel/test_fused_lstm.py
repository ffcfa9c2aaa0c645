"""PyTorch on a CPU: Keras LSTMs run through ATen's fused op with the Python loop's results."""

import importlib

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="routes the PyTorch backend only")


def outputs_and_gradients(model, inputs):
    """The model's output on ``inputs`` and d(sum of squared outputs)/d(each weight)."""
    import torch

    output = model(torch.tensor(inputs))
    gradients = torch.autograd.grad((output**2).sum(), [v.value for v in model.trainable_variables])
    return [output.detach().numpy()] + [g.numpy() for g in gradients]


@pytest.fixture
def fused_calls(monkeypatch):
    torch_rnn = importlib.import_module("keras.src.backend.torch.rnn")
    calls, fused = [], torch_rnn._cudnn_lstm
    monkeypatch.setattr(torch_rnn, "_cudnn_lstm", lambda *a, **k: calls.append(a[0].shape) or fused(*a, **k))
    return calls


def test_the_fused_op_gives_the_python_loops_outputs_and_gradients(fused_calls):
    from kerasseq.accel.fused_lstm import use_fused_cpu_lstm

    keras.utils.set_random_seed(3)
    tokens = keras.Input((12, 7))
    both_ways = keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True, dropout=0.2))(tokens)
    last = keras.layers.LSTM(4, go_backwards=True)(both_ways)
    model = keras.Model(tokens, last)
    inputs = np.random.default_rng(0).normal(size=(3, 12, 7)).astype("float32")
    try:
        use_fused_cpu_lstm(False)
        looped = outputs_and_gradients(model, inputs)
        assert fused_calls == []
    finally:
        use_fused_cpu_lstm()
    fused = outputs_and_gradients(model, inputs)
    assert fused_calls == [(3, 12, 7), (3, 12, 7), (3, 12, 10)]  # both directions, then the last layer
    for got, expected in zip(fused, looped, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_masked_lstm_stays_on_keras_own_loop(fused_calls):
    from kerasseq.accel.fused_lstm import use_fused_cpu_lstm

    use_fused_cpu_lstm()

    keras.utils.set_random_seed(3)
    tokens = keras.Input((None,), dtype="int32")
    model = keras.Model(tokens, keras.layers.LSTM(4)(keras.layers.Embedding(9, 3, mask_zero=True)(tokens)))
    padded = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 1]])
    short = model(padded[:1, :3])
    assert fused_calls == []
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(padded))[0], keras.ops.convert_to_numpy(short)[0], atol=1e-6)

"""PyTorch: convolutions and max poolings on channels-last views, with Keras's own outputs
and gradients."""

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="routes the PyTorch backend only")


def outputs_and_gradients(model, inputs):
    """The model's output on ``inputs`` and d(sum of squared outputs)/d(inputs, each weight)."""
    import torch

    inputs = torch.tensor(inputs, requires_grad=True)
    weights = [v.value for v in model.trainable_variables]
    for weight in weights:
        weight.grad = None
    outputs = model(inputs)
    (outputs**2).sum().backward()
    return [outputs.detach().numpy(), inputs.grad.numpy()] + [w.grad.numpy() for w in weights]


@pytest.fixture
def keras_calls(monkeypatch):
    """The kind ("conv", "pool") of every call that reaches Keras's own functions."""
    from kerasseq.accel import keras_routes, torch_layout

    torch_layout.use_channels_last_views()  # as kerasseq.accel.enable() does
    calls, keras_conv, keras_pool = [], keras_routes.keras_op("conv"), keras_routes.keras_op("max_pool")
    monkeypatch.setitem(keras_routes.KERAS_OPS, "conv", lambda *a, **k: calls.append("conv") or keras_conv(*a, **k))
    monkeypatch.setitem(keras_routes.KERAS_OPS, "max_pool", lambda *a, **k: calls.append("pool") or keras_pool(*a, **k))
    return calls


def layered_model(*layers):
    keras.utils.set_random_seed(5)
    images = keras.Input((12, 16, 3))
    features = images
    for layer in layers:
        features = layer(features)
    return keras.Model(images, keras.layers.Dense(2)(features))


def test_viewed_layers_give_keras_outputs_and_gradients_without_its_copies(keras_calls):
    from kerasseq.accel.torch_layout import use_channels_last_views

    model = layered_model(
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(5, 2, padding="same", dilation_rate=2),
        keras.layers.Conv2D(6, 2, padding="valid", strides=(1, 2)),
        keras.layers.MaxPooling2D((2, 1)),
    )
    inputs = np.random.default_rng(0).normal(size=(3, 12, 16, 3)).astype("float32")
    try:
        use_channels_last_views(False)
        keras_result = outputs_and_gradients(model, inputs)
    finally:
        use_channels_last_views()
    keras_calls.clear()
    viewed = outputs_and_gradients(model, inputs)
    assert keras_calls == []
    assert viewed[0].shape == (3, 2, 4, 2)
    for got, expected in zip(viewed, keras_result, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer, kind", [
    (lambda: keras.layers.Conv2D(4, 3, padding="same", strides=2), "conv"),  # PyTorch's "same": unit strides
    (lambda: keras.layers.Conv2D(6, 3, groups=3), "conv"),
    (lambda: keras.layers.MaxPooling2D((2, 2), padding="same"), "pool"),
])
def test_strided_same_grouped_and_padded_pooling_stay_with_keras(keras_calls, layer, kind):
    model = layered_model(layer())
    inputs = np.random.default_rng(1).normal(size=(2, 12, 16, 3)).astype("float32")
    model(inputs)
    assert keras_calls == [kind]


def test_the_crnn_runs_without_keras_convolutions_or_poolings(keras_calls):
    from kerasseq.ocr.recognizer import build_crnn

    model = build_crnn("small", charset="digits")
    probabilities = keras.ops.convert_to_numpy(model(np.zeros((2, 32, 128, 1), "float32")))
    assert keras_calls == [] and probabilities.shape == (2, 31, 11)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def pooled(window, inputs, grad):
    """A max pooling of ``window`` on ``inputs``: (its output, d(output · weights)/d(inputs) or None)."""
    import torch

    inputs = torch.tensor(inputs, requires_grad=grad)
    with torch.set_grad_enabled(grad):
        outputs = keras.layers.MaxPooling2D(window)(inputs)
        if not grad:
            return outputs.numpy(), None
        (outputs * torch.arange(outputs.numel()).reshape(outputs.shape)).sum().backward()
        return outputs.detach().numpy(), inputs.grad.numpy()


@pytest.mark.parametrize("window", [(2, 2), (2, 1), (3, 2)])
def test_tiled_windows_pool_as_keras_does_with_ties_and_nans(keras_calls, monkeypatch, window):
    import torch

    from kerasseq.accel.torch_layout import use_channels_last_views

    # small integers: most windows hold ties; a NaN must win its window as in max pooling
    inputs = np.random.default_rng(2).integers(0, 3, size=(2, 12, 16, 5)).astype("float32")
    inputs[0, 0, 0, 0] = np.nan
    try:
        use_channels_last_views(False)
        expected = [pooled(window, inputs, grad) for grad in (False, True)]
    finally:
        use_channels_last_views()
    calls, torch_pool = [], torch.nn.functional.max_pool2d
    monkeypatch.setattr(torch.nn.functional, "max_pool2d", lambda *a, **k: calls.append(a[0].requires_grad) or torch_pool(*a, **k))
    got = [pooled(window, inputs, grad) for grad in (False, True)]
    assert calls == [True]  # inference pools as maxima; training keeps the kernel that sends a tie's gradient to one input
    for (output, gradient), (keras_output, keras_gradient) in zip(got, expected):
        np.testing.assert_array_equal(output, keras_output)
        np.testing.assert_array_equal(gradient, keras_gradient)

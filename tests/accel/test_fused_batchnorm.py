"""PyTorch and TensorFlow: Keras's batch normalisation through the backend's fused kernel gives
Keras's own outputs, gradients and moving statistics."""

import importlib

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(BACKEND == "jax", reason="routes PyTorch and TensorFlow only (XLA fuses JAX's own)")
#: the route's module on this backend
ROUTE = importlib.import_module({"torch": "kerasseq.accel.torch_batchnorm"}.get(BACKEND, "kerasseq.accel.tf_batchnorm"))

#: float32's unit roundoff
UNIT = 2.0 ** -24


def upstream_for(shape, policy=None):
    """The fixed gradient of the outputs (seed 1), as the outputs' dtype holds it."""
    upstream = np.random.default_rng(1).normal(size=shape).astype("float32")
    if policy == "mixed_bfloat16":
        upstream = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(upstream, "bfloat16"), "float32"))
    return upstream


def gradients_of(layer, inputs, training, upstream):
    """(outputs, d(sum(outputs * upstream)) for the inputs and each trainable weight), as NumPy."""
    if BACKEND == "torch":
        import torch

        x = torch.tensor(inputs, requires_grad=True)
        outputs = layer(x, training=training)
        trainable = [v.value for v in layer.trainable_variables]
        gradients = torch.autograd.grad((outputs * torch.tensor(upstream, dtype=outputs.dtype)).sum(), [x] + trainable)
        return outputs.detach().double().numpy(), [g.double().numpy() for g in gradients]
    import tensorflow as tf

    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, training=training)
        loss = tf.reduce_sum(tf.cast(outputs, "float32") * upstream)
    gradients = tape.gradient(loss, [x] + [v.value for v in layer.trainable_variables])
    return outputs.numpy().astype("float64"), [g.numpy().astype("float64") for g in gradients]


def run(layer, inputs, training, routed):
    """Outputs, gradients of sum(outputs * upstream) for the inputs and every weight, and the
    moving statistics after the call, with the route on or off (the layer's weights are reset)."""
    weights, was_routed = layer.get_weights(), routing()
    ROUTE.use_fused_batchnorm(routed)
    try:
        outputs, gradients = gradients_of(layer, inputs, training, upstream_for(inputs.shape, layer.dtype_policy.name))
        result = [outputs] + gradients
        result += [np.array(layer.moving_mean, "float64"), np.array(layer.moving_variance, "float64")]
    finally:
        ROUTE.use_fused_batchnorm(was_routed)
        layer.set_weights(weights)
    return result


def routing():
    """Whether Keras's batch normalisation goes to the fused kernel now (as the suite's
    conftest sets it; each test leaves it so)."""
    return keras.layers.BatchNormalization.call is ROUTE._fused_call


def make_layer(shape, axis, options):
    """A built BatchNormalization whose weights come from seed 0: gamma around 1, beta
    around 0, moving mean around 2, moving variance around 9."""
    rng = np.random.default_rng(0)
    layer = keras.layers.BatchNormalization(axis=axis, **options)
    layer.build(shape)
    starts = {"gamma": (1.0, 0.5), "beta": (0.0, 0.5), "moving_mean": (2.0, 0.5), "moving_variance": (3.0, 0.5)}
    for weight in layer.weights:
        value = rng.normal(*starts[weight.name], weight.shape)
        weight.assign(value**2 if weight.name == "moving_variance" else value)
    return layer


def exact(layer, inputs, training, upstream):
    """What ``run`` returns, in float64 by the textbook formulas: x-hat = (x - mean) / std
    over the batch (training) or the moving statistics; y = gamma x-hat + beta; the input
    gradient (gamma / std) (dy - mean(dy) - x-hat mean(dy x-hat)) in training, (gamma / std)
    dy in inference."""
    axis = layer.axis % inputs.ndim
    x = np.moveaxis(inputs.astype("float64"), axis, -1)
    dy = np.moveaxis(upstream.astype("float64"), axis, -1)
    weights = {w.name: np.array(w, "float64") for w in layer.weights}
    gamma = weights.get("gamma", 1.0)
    reduced = tuple(range(x.ndim - 1))
    mean, variance = (x.mean(reduced), x.var(reduced)) if training else (weights["moving_mean"], weights["moving_variance"])
    std = np.sqrt(variance + layer.epsilon)
    normalised = (x - mean) / std
    outputs = gamma * normalised + weights.get("beta", 0.0)
    dx = dy - dy.mean(reduced) - normalised * (dy * normalised).mean(reduced) if training else dy
    results = [outputs, gamma / std * dx]
    results += [(dy * normalised).sum(reduced)] if layer.scale else []
    results += [dy.sum(reduced)] if layer.center else []
    results = [np.moveaxis(r, -1, axis) if r.ndim > 1 else r for r in results]
    if training:
        momentum = layer.momentum
        return results + [weights["moving_mean"] * momentum + mean * (1 - momentum),
                          weights["moving_variance"] * momentum + variance * (1 - momentum)]
    return results + [weights["moving_mean"], weights["moving_variance"]]


@pytest.mark.parametrize("shape, axis, options", [
    ((4, 8, 16, 6), -1, {}),  # channels-last images, as in the CRNN
    ((4, 6, 8, 16), 1, {}),  # channels-first (left to Keras on TensorFlow)
    ((8, 31, 6), -1, {"center": False}),  # sequences; no beta (left to Keras on TensorFlow)
    ((4, 8, 16, 6), -1, {"scale": False, "momentum": 0.9}),
    ((4, 8, 16, 6), -1, {"dtype": "mixed_bfloat16"}),
])
@pytest.mark.parametrize("training", [True, False])
def test_the_fused_kernel_gives_keras_outputs_gradients_and_moving_statistics(shape, axis, options, training):
    # channels from nearly constant (standard deviation 0.01, variance below epsilon) to spread out
    scales = np.geomspace(0.01, 3.0, shape[axis]).reshape([-1 if d == axis % len(shape) else 1 for d in range(len(shape))])
    inputs = (np.random.default_rng(0).normal(size=shape) * scales + 2).astype("float32")
    layer = make_layer(shape, axis, options)
    keras_results, fused_results = run(layer, inputs, training, False), run(layer, inputs, training, True)
    # the yardstick: the exact values (float64); the fused kernel may round, but no worse than
    # Keras does in float32 (twice its largest error, with a floor of a few units of roundoff)
    references = exact(layer, inputs, training, upstream_for(inputs.shape, options.get("dtype")))
    names = ["outputs", "input gradient"] + ["weight gradient"] * (len(references) - 4) + ["moving mean", "moving variance"]
    for name, reference, keras_value, fused_value in zip(names, references, keras_results, fused_results):
        keras_error = np.abs(keras_value - reference).max()
        fused_error = np.abs(fused_value - reference).max()
        assert fused_error <= 2 * keras_error + 4 * UNIT * np.abs(reference).max(), name


def test_a_mask_is_left_to_keras(monkeypatch):
    was_routed = routing()
    ROUTE.use_fused_batchnorm(True)
    calls, keras_call = [], ROUTE._keras_call
    monkeypatch.setattr(ROUTE, "_keras_call", lambda *a, **k: calls.append(k["mask"] is not None) or keras_call(*a, **k))
    try:
        layer = keras.layers.BatchNormalization()
        inputs = np.ones((2, 5, 4, 3), "float32")
        mask = np.ones((2, 5, 4), bool)
        mask[0, 3:] = False
        layer(inputs, training=True, mask=mask)
        layer(inputs, training=True)
        assert calls == [True]
    finally:
        monkeypatch.undo()  # Keras's own call back in the module before the class gets it
        ROUTE.use_fused_batchnorm(was_routed)


def test_a_float64_layer_normalises_in_float64():
    # TensorFlow's fused kernel has no float64 version: such a layer is left to Keras
    was_routed = routing()
    ROUTE.use_fused_batchnorm(True)
    try:
        inputs = np.random.default_rng(0).normal(size=(4, 5, 6, 3)) * 1e-3 + 1.0
        layer = keras.layers.BatchNormalization(dtype="float64")
        outputs = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(inputs, "float64"), training=True))
    finally:
        ROUTE.use_fused_batchnorm(was_routed)
    mean, variance = inputs.mean(axis=(0, 1, 2)), inputs.var(axis=(0, 1, 2))
    assert outputs.dtype == np.float64
    np.testing.assert_allclose(outputs, (inputs - mean) / np.sqrt(variance + 1e-3), rtol=1e-9)


@pytest.mark.parametrize("training", [True, False])
def test_bfloat16_activations_reach_the_kernel_uncast_with_float32_weights(monkeypatch, training):
    # a cast to float32 and back would be two more passes over the activations each way
    seen = []
    if BACKEND == "torch":
        import torch

        owner, name = (torch, "native_batch_norm") if training else (torch.nn.functional, "batch_norm")
    else:
        import tensorflow as tf

        owner, name = tf.compat.v1.nn, "fused_batch_norm"
    kernel = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda x, *a, **k: seen.append(
        [str(keras.backend.standardize_dtype(v.dtype)) for v in (x, *a[:2])]) or kernel(x, *a, **k))
    was_routed = routing()
    ROUTE.use_fused_batchnorm(True)
    try:
        layer = keras.layers.BatchNormalization(dtype="mixed_bfloat16")
        outputs = layer(np.random.default_rng(0).normal(size=(4, 5, 6, 3)).astype("float32"), training=training)
    finally:
        ROUTE.use_fused_batchnorm(was_routed)
    assert seen == [["bfloat16", "float32", "float32"]]
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"

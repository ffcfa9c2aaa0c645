"""TensorFlow on a CPU: Keras LSTMs through the fused block kernel give Keras's own outputs and
gradients."""

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="routes the TensorFlow backend only")


def outputs_and_gradients(layer_options, inputs, routed, dtype="float32", bidirectional=False, policy=None):
    """The outputs of an LSTM(16) on ``inputs`` and d(sum(outputs * upstream))/d(inputs and
    each weight), with the route on or off, in ``dtype`` (or the dtype policy ``policy``);
    the weights are a float32 layer's from seed 0 in every case."""
    import tensorflow as tf
    from keras.src import backend

    from kerasseq.accel import tf_lstm

    was_routed = backend.lstm is tf_lstm._block_lstm
    tf_lstm.use_fused_cpu_lstm(routed)
    try:
        def make(dtype):
            layer = keras.layers.LSTM(16, dtype=policy or dtype, **layer_options)
            layer = keras.layers.Bidirectional(layer, dtype=policy or dtype) if bidirectional else layer
            layer.build(inputs.shape)
            return layer

        keras.utils.set_random_seed(0)
        weights = make("float32").get_weights()
        layer = make(dtype)
        layer.set_weights([w.astype(dtype) for w in weights])
        x = tf.constant(inputs.astype(dtype))
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, training=True)
            outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]  # the sequence, h and c
            rng = np.random.default_rng(1)
            loss = sum(tf.reduce_sum(tf.cast(output, "float64") * rng.normal(size=output.shape)) for output in outputs)
        gradients = tape.gradient(loss, [x] + [v.value for v in layer.trainable_variables])
    finally:
        tf_lstm.use_fused_cpu_lstm(was_routed)
    return [output.numpy().astype("float64") for output in outputs] + [g.numpy().astype("float64") for g in gradients]


@pytest.mark.parametrize("layer_options, bidirectional, policy", [
    ({"return_sequences": True}, False, None),
    ({}, False, None),
    ({"return_sequences": True, "go_backwards": True}, False, None),
    ({"return_sequences": True, "return_state": True}, False, None),
    ({"return_sequences": True}, True, None),  # as in the CRNN
    ({"return_sequences": True}, True, "mixed_bfloat16"),
])
def test_the_block_kernel_gives_keras_outputs_and_gradients(layer_options, bidirectional, policy):
    inputs = np.random.default_rng(0).normal(size=(4, 31, 24))
    keras_values = outputs_and_gradients(layer_options, inputs, False, bidirectional=bidirectional, policy=policy)
    fused_values = outputs_and_gradients(layer_options, inputs, True, bidirectional=bidirectional, policy=policy)
    exact = outputs_and_gradients(layer_options, inputs, False, "float64", bidirectional)
    assert len(fused_values) == len(keras_values) == len(exact)
    # the block kernel may round, but no worse than Keras's own loop does (twice its largest
    # error, with a floor of a few units of float32 roundoff)
    for index, (reference, keras_value, fused_value) in enumerate(zip(exact, keras_values, fused_values)):
        keras_error = np.abs(keras_value - reference).max()
        fused_error = np.abs(fused_value - reference).max()
        assert fused_error <= 2 * keras_error + 4 * 2.0**-24 * np.abs(reference).max(), index


def test_a_mask_other_activations_and_float64_are_left_to_keras(monkeypatch):
    from keras.src import backend

    from kerasseq.accel import tf_lstm

    was_routed = backend.lstm is tf_lstm._block_lstm
    tf_lstm.use_fused_cpu_lstm(True)
    calls, keras_lstm = [], tf_lstm._keras_lstm
    monkeypatch.setattr(tf_lstm, "_keras_lstm", lambda *a, **k: calls.append(a[3] is not None) or keras_lstm(*a, **k))
    try:
        inputs = np.ones((2, 5, 3), "float32")
        keras.layers.LSTM(4)(inputs, mask=np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool))
        keras.layers.LSTM(4, activation="relu")(inputs)
        assert keras.layers.LSTM(4, dtype="float64")(inputs.astype("float64")).dtype == "float64"  # no float64 kernel
        keras.layers.LSTM(4)(inputs)
        assert calls == [True, False, False]
    finally:
        monkeypatch.undo()
        tf_lstm.use_fused_cpu_lstm(was_routed)


def recurrent_model(dtype="float32"):
    """(batch, 8, 16, 1) images -> (batch, 8, 5): a convolution and max pooling, then a
    bidirectional LSTM over the 8 rows, as in a CRNN."""
    inputs = keras.Input((8, 16, 1), dtype=dtype)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", dtype=dtype)(inputs)
    x = keras.layers.Reshape((8, 32), dtype=dtype)(keras.layers.MaxPooling2D((1, 2), dtype=dtype)(x))
    x = keras.layers.Bidirectional(keras.layers.LSTM(6, return_sequences=True, dtype=dtype), dtype=dtype)(x)
    return keras.Model(inputs, keras.layers.Dense(5, dtype=dtype)(x))


def one_step(dtype, routed, jit_compile, images, targets, weights):
    """Predictions before, and every weight's change after, one SGD step (rate 1) on the
    mean squared error, for ``recurrent_model`` with ``weights``."""
    from keras.src import backend

    from kerasseq.accel import tf_lstm

    was_routed = backend.lstm is tf_lstm._block_lstm
    tf_lstm.use_fused_cpu_lstm(routed)
    try:
        model = recurrent_model(dtype)
        model.set_weights([w.astype(dtype) for w in weights])
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse", jit_compile=jit_compile)
        assert model.jit_compile is jit_compile
        predictions = model.predict_on_batch(images.astype(dtype))
        before = [v.numpy().astype("float64") for v in model.trainable_variables]
        model.train_on_batch(images.astype(dtype), targets.astype(dtype))
        after = [v.numpy().astype("float64") for v in model.trainable_variables]
    finally:
        tf_lstm.use_fused_cpu_lstm(was_routed)
    return [predictions.astype("float64")] + [a - b for a, b in zip(after, before)]


def test_a_model_xla_compiles_trains_as_keras_with_the_route_on():
    # XLA has no block LSTM kernel: there the route leaves the LSTM to Keras's while loop
    rng = np.random.default_rng(0)
    images, targets = rng.normal(size=(4, 8, 16, 1)), rng.normal(size=(4, 8, 5))
    keras.utils.set_random_seed(0)
    weights = recurrent_model().get_weights()
    exact = one_step("float64", False, False, images, targets, weights)
    keras_values = one_step("float32", False, False, images, targets, weights)
    xla_values = one_step("float32", True, True, images, targets, weights)
    for index, (reference, keras_value, xla_value) in enumerate(zip(exact, keras_values, xla_values)):
        keras_error = np.abs(keras_value - reference).max()
        xla_error = np.abs(xla_value - reference).max()
        assert xla_error <= 2 * keras_error + 4 * 2.0**-24 * np.abs(reference).max(), index

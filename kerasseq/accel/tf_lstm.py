"""Keras LSTM layers on a TensorFlow CPU through TensorFlow's fused block LSTM kernel.

Keras 3.15 runs ``keras.layers.LSTM`` on TensorFlow through cuDNN on a GPU; on a CPU it
loops over the time steps in a ``tf.while_loop`` of the cell's separate operations, and
differentiates that loop. TensorFlow also has ``BlockLSTMV2``, one CPU kernel for the
whole sequence with Keras's gate order (input, forget, cell, output), and its gradient
kernel ``BlockLSTMGradV2``. TensorFlow registers the wrong gradient for it (that of
``BlockLSTM``, whose gates are ordered input, cell, forget, output), so this module
differentiates it itself (:func:`_sequence_gradients`): only the recurrence runs step by
step, and the input, weight and bias gradients are whole-sequence matrix products after it,
where ``BlockLSTMGradV2`` forms the weight gradient step by step, 2 to 4 times slower on a
2-core CPU (measurements in ``docs/measurements.md``). Its route (``tf_fused_lstm`` in
:mod:`kerasseq.accel`), :func:`use_fused_cpu_lstm`, sends Keras's TensorFlow LSTMs there
wherever Keras's cuDNN path would take them (tanh and sigmoid, a bias, no mask, not
unrolled), not in float64, on a CPU, in a graph XLA does not compile. Results are Keras's
to float32 rounding; under ``mixed_bfloat16`` the kernel computes in float32 (it has no
bfloat16 version) and returns bfloat16, as Keras's loop does. Every other case, and every other backend, is left to Keras.
"""

import keras

from kerasseq.accel.keras_routes import keras_original, replace


def use_fused_cpu_lstm(enabled=True):
    """Route (``enabled``) or stop routing the TensorFlow backend's CPU LSTMs to the block
    kernel. Idempotent; a no-op on other backends. Takes effect for layers traced afterwards."""
    from keras.src import backend

    replace("tensorflow", backend, "lstm", _block_lstm, enabled)


def _keras_lstm(*args):
    """Keras's own ``keras.src.backend.lstm``, for the cases the route leaves to it."""
    from keras.src import backend

    return keras_original(backend, "lstm")(*args)


def _block_lstm(inputs, initial_state_h, initial_state_c, mask, kernel, recurrent_kernel, bias, activation,
                recurrent_activation, return_sequences=False, go_backwards=False, unroll=False, time_major=False):
    """``keras.src.backend.lstm``'s signature and results: inputs (batch, time, features)
    -> (last output (batch, units), outputs (batch, time or 1, units), [h, c])."""
    import tensorflow as tf

    fusable = (
        mask is None
        and bias is not None
        and not unroll
        and activation in (keras.activations.tanh, keras.ops.tanh, tf.tanh)
        and recurrent_activation in (keras.activations.sigmoid, keras.ops.sigmoid, tf.sigmoid)
        and tf.as_dtype(inputs.dtype) != tf.float64  # the kernel has no float64 version
        and not tf.config.list_logical_devices("GPU")
        and not _compiled_by_xla()
    )
    if not fusable:
        return _keras_lstm(inputs, initial_state_h, initial_state_c, mask, kernel, recurrent_kernel, bias, activation,
                           recurrent_activation, return_sequences, go_backwards, unroll, time_major)
    values = [getattr(v, "value", v) for v in (kernel, recurrent_kernel, bias)]
    # the kernel takes float32 and float16; a bfloat16 policy's LSTM runs in float32 and
    # hands bfloat16 back
    dtype = values[0].dtype
    kernel_dtype = tf.float32 if dtype == tf.bfloat16 else dtype
    values = [tf.cast(v, kernel_dtype) for v in values]
    sequence = tf.cast(inputs if time_major else tf.transpose(inputs, (1, 0, 2)), kernel_dtype)  # (time, batch, features)
    if go_backwards:
        sequence = tf.reverse(sequence, [0])
    h, c = _fused(sequence, tf.cast(initial_state_h, kernel_dtype), tf.cast(initial_state_c, kernel_dtype),
                  tf.concat(values[:2], axis=0), values[2])
    h, c = tf.cast(h, dtype), tf.cast(c, dtype)
    outputs = h if return_sequences else h[-1:]
    if not time_major:
        outputs = tf.transpose(outputs, (1, 0, 2))
    return h[-1], outputs, [h[-1], c[-1]]


def _compiled_by_xla():
    """Whether the graph being traced is compiled by XLA (``jit_compile``), which has no
    kernel for the block LSTM; Keras's while loop compiles there."""
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    return not tf.executing_eagerly() and control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def _fused(sequence, h0, c0, weights, bias):
    """BlockLSTMV2 over ``sequence`` (time, batch, features) from states (batch, units),
    with [kernel; recurrent kernel] ``weights`` (features + units, 4 units) -> every step's
    h and c, (time, batch, units) each, differentiable through BlockLSTMGradV2."""
    import tensorflow as tf

    @tf.custom_gradient
    def block(sequence, h0, c0, weights, bias):
        units = tf.shape(h0)[1:]
        peephole = tf.zeros(units, sequence.dtype)  # no peephole connections
        steps = tf.cast(tf.shape(sequence)[0], tf.int64)
        gates = tf.raw_ops.BlockLSTMV2(seq_len_max=steps, x=sequence, cs_prev=c0, h_prev=h0, w=weights, wci=peephole,
                                       wcf=peephole, wco=peephole, b=bias, cell_clip=0.0, use_peephole=False)

        def gradient(dh, dc):
            dh = tf.zeros_like(gates.h) if dh is None else dh
            dc = tf.zeros_like(gates.cs) if dc is None else dc
            return _sequence_gradients(sequence, h0, c0, weights, gates, dh, dc)

        return (gates.h, gates.cs), gradient

    return block(sequence, h0, c0, weights, bias)


def _sequence_gradients(sequence, h0, c0, weights, gates, dh, dc):
    """What ``BlockLSTMGradV2`` computes, faster: from the block kernel's inputs
    (``sequence`` (time, batch, features), states ``h0``, ``c0`` (batch, units), ``weights``
    (features + units, 4 units)), its per-step ``gates`` (i, cs, f, o, ci, co, h, each
    (time, batch, units)) and the gradients ``dh``, ``dc`` of every step's h and c ->
    gradients of the sequence, h0, c0, the weights and the bias (4 units,).

    Going back in time, each step's gradient of the gates' pre-activations (input,
    forget, cell, output) comes from the h and c gradients reaching it, and sends h's on
    through the recurrent kernel; the rest are products over all steps at once."""
    import tensorflow as tf

    features = tf.shape(sequence)[2]
    i, f, o, ci, co = gates.i, gates.f, gates.o, gates.ci, gates.co
    cs_prev = tf.concat([c0[None], gates.cs[:-1]], 0)
    # per step: d(c)/d(h) through the output gate, and each gate's derivative factor times
    # what multiplies it (c's gradient for the first three, h's for the output gate)
    h_to_c = o * (1 - co * co)
    factors = tf.concat([ci * i * (1 - i), cs_prev * f * (1 - f), i * (1 - ci * ci), co * o * (1 - o)], -1)
    recurrent_transposed = tf.transpose(weights[features:])  # (4 units, units)

    def step(t, dh_next, dc_next, gate_gradients):
        dh_t = dh[t] + dh_next
        dc_t = dc[t] + dc_next + dh_t * h_to_c[t]
        gate_gradient = tf.concat([dc_t, dc_t, dc_t, dh_t], -1) * factors[t]  # (batch, 4 units)
        return (t - 1, tf.matmul(gate_gradient, recurrent_transposed), dc_t * f[t],
                gate_gradients.write(t, gate_gradient))

    steps = tf.shape(sequence)[0]
    _, dh0, dc0, gate_gradients = tf.while_loop(
        lambda t, *_: t >= 0, step,
        (steps - 1, tf.zeros_like(h0), tf.zeros_like(c0), tf.TensorArray(sequence.dtype, size=steps)))
    gate_gradients = gate_gradients.stack()
    flat = tf.reshape(gate_gradients, [-1, tf.shape(gate_gradients)[2]])  # (time * batch, 4 units)
    h_prev = tf.concat([h0[None], gates.h[:-1]], 0)
    step_inputs = tf.reshape(tf.concat([sequence, h_prev], -1), [tf.shape(flat)[0], -1])
    sequence_gradient = tf.reshape(tf.matmul(flat, weights[:features], transpose_b=True), tf.shape(sequence))
    return sequence_gradient, dh0, dc0, tf.matmul(step_inputs, flat, transpose_a=True), tf.reduce_sum(flat, 0)

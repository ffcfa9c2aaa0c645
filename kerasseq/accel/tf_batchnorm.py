"""Batch normalisation on the TensorFlow backend through TensorFlow's fused kernel.

Keras 3.15's ``BatchNormalization`` on TensorFlow computes the batch's moments and then
``(x - mean) * rsqrt(variance + epsilon) * gamma + beta`` as separate graph operations,
each a pass over the activations forward and backward; TensorFlow's
``FusedBatchNormV3`` (oneDNN's batch normalisation where TensorFlow runs oneDNN) does each
direction in one kernel. Its route (``tf_fused_batchnorm`` in :mod:`kerasseq.accel`),
:func:`use_fused_batchnorm`, sends Keras's channels-last 4-D batch normalisation there:
in training on the batch's statistics (the kernel returns the Bessel-corrected variance;
the moving one is updated from the biased variance, as Keras does), in inference on the
moving ones. Outputs, gradients and moving statistics are Keras's to float32 rounding
(measurements in ``docs/measurements.md``). Other ranks and axes (the CPU kernel takes
channels last only), a mask, batch renormalisation, synchronized statistics, an epsilon
below the kernel's 1.001e-5, float64 (the kernel has none) and every other backend are left
to Keras.
"""

import keras
from keras import ops

from kerasseq.accel.keras_routes import keras_original, replace

#: the fused kernel's smallest epsilon
KERNEL_EPSILON = 1.001e-5



def use_fused_batchnorm(enabled=True):
    """Route (``enabled``) or stop routing the TensorFlow backend's channels-last 4-D
    ``BatchNormalization`` layers to the fused kernel. Idempotent; a no-op on other
    backends. Takes effect for layers called afterwards."""
    replace("tensorflow", keras.layers.BatchNormalization, "call", _fused_call, enabled)


def _keras_call(self, inputs, training=None, mask=None):
    """Keras's own ``BatchNormalization.call``, for the cases the route leaves to it."""
    return keras_original(keras.layers.BatchNormalization, "call")(self, inputs, training=training, mask=mask)


def _fused_call(self, inputs, training=None, mask=None):
    """``BatchNormalization.call``'s signature and results: inputs (batch, height, width,
    channels) -> the same shape, in the layer's compute dtype."""
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    rank = inputs.shape.rank
    if (rank != 4 or self.axis % rank != 3 or mask is not None or self.renorm or self.synchronized
            or self.epsilon < KERNEL_EPSILON or inputs.dtype == tf.float64):  # the kernel has no float64 version
        return _keras_call(self, inputs, training=training, mask=mask)
    # Keras computes in float32 at least, since bfloat16 statistics overflow and round badly.
    # The fused kernel does the same for bfloat16 or float16 activations given float32
    # weights (it sums in float32 and rounds only the outputs and the input gradient), so the
    # activations stay in their dtype: no cast to float32 and back, a pass over them each way
    dtype = keras.backend.result_type(inputs.dtype, "float32")  # the weights' and statistics' dtype
    channels = inputs.shape[-1]
    gamma = ops.cast(self.gamma, dtype) if self.scale else tf.ones((channels,), dtype)
    beta = ops.cast(self.beta, dtype) if self.center else tf.zeros((channels,), dtype)
    moving_mean = ops.cast(self.moving_mean, dtype)
    moving_variance = ops.cast(self.moving_variance, dtype)
    if training and self.trainable:
        outputs, mean, corrected = tf.compat.v1.nn.fused_batch_norm(inputs, gamma, beta, epsilon=self.epsilon, is_training=True)
        values = tf.cast(tf.size(inputs) // channels, dtype)
        variance = corrected * (values - 1.0) / tf.maximum(values, 1.0)  # the biased variance Keras averages
        self.moving_mean.assign(moving_mean * self.momentum + tf.stop_gradient(mean) * (1.0 - self.momentum))
        self.moving_variance.assign(moving_variance * self.momentum + tf.stop_gradient(variance) * (1.0 - self.momentum))
    else:
        outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(inputs, gamma, beta, mean=moving_mean, variance=moving_variance,
                                                         epsilon=self.epsilon, is_training=False)
    return ops.cast(outputs, self.compute_dtype)

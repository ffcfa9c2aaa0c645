"""Batch normalisation on the PyTorch backend through PyTorch's fused kernel.

Keras 3.15's ``BatchNormalization`` computes, on PyTorch, the batch's mean and variance
and then ``(x - mean) * rsqrt(variance + epsilon) * gamma + beta`` as separate tensor
operations, each a pass over the activations forward and another backward; PyTorch's
``batch_norm`` does each direction in one kernel. In the small CRNN, which normalises
after all six 3×3 convolutions, those passes and their gradients took about a fifth of a
training step on a CPU (measurements in ``docs/measurements.md``). Its route
(``fused_batchnorm`` in :mod:`kerasseq.accel`), :func:`use_fused_batchnorm`, sends Keras's
PyTorch batch normalisation to ``torch.nn.functional.batch_norm``: in training on the
batch's statistics (the moving averages updated as Keras does, from the same biased
variance, which the kernel hands back as 1 / sqrt(variance + epsilon)), in inference on
the moving ones. Outputs, gradients and moving statistics are
Keras's to float32 rounding. A mask, batch renormalisation, a channel with a single value
per batch, traces (but :mod:`kerasseq.accel.torch_trace`'s) and ``torch.compile``, and every
other backend are left to Keras.
"""

import keras
from keras import ops

from kerasseq.accel.keras_routes import keras_original, replace
from kerasseq.accel.torch_trace import recorded_elsewhere


def use_fused_batchnorm(enabled=True):
    """Route (``enabled``) or stop routing the PyTorch backend's ``BatchNormalization``
    layers to PyTorch's fused kernel. Idempotent; a no-op on other backends. Takes effect
    for layers called afterwards."""
    replace("torch", keras.layers.BatchNormalization, "call", _fused_call, enabled)


def _keras_call(self, inputs, training=None, mask=None):
    """Keras's own ``BatchNormalization.call``, for the cases the route leaves to it."""
    return keras_original(keras.layers.BatchNormalization, "call")(self, inputs, training=training, mask=mask)


def _fused_call(self, inputs, training=None, mask=None):
    """``BatchNormalization.call``'s signature and results: inputs (batch, ..., channels
    at ``self.axis``, ...) -> the same shape, in the layer's compute dtype."""
    import torch
    import torch.nn.functional as F
    from keras.src import backend

    inputs = backend.convert_to_tensor(inputs)
    axis = self.axis % inputs.ndim
    values_per_channel = inputs.numel() // max(1, inputs.shape[axis])
    train = bool(training) and self.trainable
    if (mask is not None or self.renorm or (train and values_per_channel < 2)
            or recorded_elsewhere()):
        return _keras_call(self, inputs, training=training, mask=mask)
    # Keras computes in float32 at least, since bfloat16 statistics overflow and round badly.
    # PyTorch's kernel does the same for bfloat16 or float16 activations given float32
    # weights (its mixed-type batch norm sums in float32 and rounds only the outputs and the
    # input gradient), so the activations stay in their dtype: no cast to float32 and back,
    # two passes over them each way
    x = torch.movedim(inputs, axis, 1)  # (batch, channels, ...)
    dtype = torch.promote_types(inputs.dtype, torch.float32)  # the weights' and statistics' dtype
    gamma = ops.cast(self.gamma, dtype) if self.scale else None
    beta = ops.cast(self.beta, dtype) if self.center else None
    moving_mean = ops.cast(self.moving_mean, dtype)
    moving_variance = ops.cast(self.moving_variance, dtype)
    if train:
        # one pass gives the output and the batch's mean and 1 / sqrt(variance + epsilon),
        # whose biased variance updates the moving one as Keras's does
        outputs, mean, inverse_std = torch.native_batch_norm(x, gamma, beta, None, None, True, 0.0, self.epsilon)
        variance = torch.clamp(inverse_std.detach() ** -2 - self.epsilon, min=0.0)
        self.moving_mean.assign(moving_mean * self.momentum + mean.detach() * (1.0 - self.momentum))
        self.moving_variance.assign(moving_variance * self.momentum + variance * (1.0 - self.momentum))
    else:
        outputs = F.batch_norm(x, moving_mean, moving_variance, gamma, beta, training=False, eps=self.epsilon)
    return ops.cast(torch.movedim(outputs, 1, axis), self.compute_dtype)

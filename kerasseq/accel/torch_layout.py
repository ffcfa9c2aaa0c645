"""Convolution and max pooling on the PyTorch backend without layout copies.

Keras 3.15 runs a channels-last 2-D convolution on PyTorch by copying the input into
channels-first order (``permute(...).contiguous()``) and then copying it again into
PyTorch's ``channels_last`` memory format for the kernel; a max pooling takes the first
copy and pools on channels-first memory. On the blog CRNN (CPU, batch 16) the copies took
21 ms and the pooling 21 ms of a 158 ms forward pass, against 2 ms each in the same
network written directly in PyTorch. Yet a (batch, height, width, channels) tensor viewed
through ``permute(0, 3, 1, 2)`` already *is* a channels-first tensor in ``channels_last``
memory format, which PyTorch's convolution and pooling kernels take as it is and answer
in kind, so permuting their output back is a view as well. Its route
(``channels_last`` in :mod:`kerasseq.accel`), :func:`use_channels_last_views`, sends Keras's PyTorch
2-D convolutions and max poolings there: channels-last data, no groups, ``valid``
padding or ``same`` with unit strides (PyTorch's own ``"same"``). A ``Conv2D`` layer's
bias goes into the same kernel call, which adds it as it writes the output (and sums its
gradient in the backward kernel), where Keras adds it in a pass of its own: on the small
CRNN's reading at batch 64 those adds took 45 of 669 ms of kernel time. At inference a
max pooling whose windows tile its input runs as elementwise maxima instead (exact).
Outputs and gradients are Keras's to float32 rounding; every other case, traces (but
:mod:`kerasseq.accel.torch_trace`'s) and ``torch.compile``, and every other backend are left to Keras.
"""

import functools

import keras
from keras.src.layers.convolutional.base_conv import BaseConv
from keras.src.utils.argument_validation import standardize_tuple

from kerasseq.accel.keras_routes import keras_op, keras_original, replace, route
from kerasseq.accel.torch_trace import recorded_elsewhere
from kerasseq.accel.torch_weight_cache import derived


def use_channels_last_views(enabled=True):
    """Route (``enabled``) or stop routing the PyTorch backend's 2-D convolutions and max
    poolings to the copy-free versions. Idempotent; a no-op on other backends. Takes
    effect for layers called afterwards."""
    route("torch", {"conv": _conv, "max_pool": _max_pool}, enabled)
    replace("torch", BaseConv, "call", _conv_call, enabled)


def _viewable(inputs, data_format):
    """Whether ``inputs`` is a 4-D channels-last tensor this module may take, outside a
    trace or a compiled graph (but :mod:`kerasseq.accel.torch_trace`'s)."""
    return (
        inputs.ndim == 4
        and (data_format or keras.config.image_data_format()) == "channels_last"
        and not recorded_elsewhere()
    )


def _conv_takes(inputs, kernel, strides, padding, data_format):
    """Whether the viewed convolution takes these arguments (tensors: ``inputs``, ``kernel``):
    no groups, and PyTorch's "same" takes unit strides only."""
    return (_viewable(inputs, data_format) and kernel.shape[2] == inputs.shape[3]
            and not (padding.lower() == "same" and standardize_tuple(strides, 2, "strides") != (1, 1)))


def _conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """``keras.src.backend.nn.conv``'s signature and result: inputs (batch, height, width,
    in channels), kernel (kernel height, kernel width, in channels, out channels) ->
    (batch, out height, out width, out channels)."""
    inputs, kernel = keras.ops.convert_to_tensor(inputs), keras.ops.convert_to_tensor(kernel)
    if not _conv_takes(inputs, kernel, strides, padding, data_format):
        return keras_op("conv")(inputs, kernel, strides, padding, data_format, dilation_rate)
    return _viewed_conv(inputs, kernel, strides, padding, dilation_rate)


def _conv_call(self, inputs):
    """``Conv2D.call`` (``BaseConv.call``) with the bias added by the convolution kernel:
    inputs (batch, height, width, in channels) -> (batch, out height, out width, filters)."""
    if self.rank == 2 and self.use_bias:
        kernel, bias = keras.ops.convert_to_tensor(self.kernel), keras.ops.convert_to_tensor(self.bias)
        inputs = keras.ops.convert_to_tensor(inputs)
        if _conv_takes(inputs, kernel, self.strides, self.padding, self.data_format):
            outputs = _viewed_conv(inputs, kernel, self.strides, self.padding, self.dilation_rate, bias)
            return outputs if self.activation is None else self.activation(outputs)
    return keras_original(BaseConv, "call")(self, inputs)


def _viewed_conv(inputs, kernel, strides, padding, dilation_rate, bias=None):
    """PyTorch's 2-D convolution on channels-last views of ``inputs`` (batch, height, width,
    in channels) and ``kernel`` (height, width, in channels, out channels), plus ``bias``
    (out channels) if given -> (batch, out height, out width, out channels)."""
    import torch

    # the kernel in PyTorch's channels-last weight layout, (out, height, width, in) in memory:
    # one 2-D transpose of the (height * width * in, out) matrix, which PyTorch copies in
    # cache blocks (a copy of the permuted 4-D view goes element by element, 2-4 times
    # slower for 512-channel kernels)
    height, width, channels, filters = kernel.shape
    kernel = derived((kernel,), "channels_last_kernel", lambda: kernel.reshape(-1, filters).t().contiguous()
                     .view(filters, height, width, channels).permute(0, 3, 1, 2))
    outputs = torch.nn.functional.conv2d(inputs.permute(0, 3, 1, 2), kernel, bias, stride=standardize_tuple(strides, 2, "strides"),
                                         padding=padding.lower(), dilation=standardize_tuple(dilation_rate, 2, "dilation_rate"))
    return outputs.permute(0, 2, 3, 1)


def _max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """``keras.src.backend.nn.max_pool``'s signature and result: inputs (batch, height,
    width, channels) -> (batch, pooled height, pooled width, channels)."""
    import torch

    inputs = keras.ops.convert_to_tensor(inputs)
    if not (_viewable(inputs, data_format) and padding.lower() == "valid"):
        return keras_op("max_pool")(inputs, pool_size, strides, padding, data_format)
    window = standardize_tuple(pool_size, 2, "pool_size")
    strides = standardize_tuple(strides or window, 2, "strides")
    if strides == window and not (torch.is_grad_enabled() and inputs.requires_grad) and _tiled(inputs.shape, window):
        return _tiled_max(inputs, window)
    outputs = torch.nn.functional.max_pool2d(inputs.permute(0, 3, 1, 2), window, strides)
    return outputs.permute(0, 2, 3, 1)


def _tiled(shape, window):
    """Whether windows ``window`` (height, width) tile a (batch, height, width, channels) ``shape`` exactly."""
    return shape[1] % window[0] == 0 and shape[2] % window[1] == 0


def _tiled_max(inputs, window):
    """Max pooling of channels-last ``inputs`` (batch, height, width, channels) over
    non-overlapping ``window``s that tile it -> (batch, height / wh, width / ww, channels):
    elementwise maxima of the windows' strided views, which run over whole channel rows
    (PyTorch's channels-last pooling kernel took about twice as long at inference, where it
    also finds each maximum's index for a backward pass; measurements in docs/measurements.md).
    Inference only: a tie's gradient would be shared, where max pooling gives it to one input."""
    import torch

    batch, height, width, channels = inputs.shape
    rows = inputs.reshape(batch, height // window[0], window[0], width, channels).unbind(2)
    outputs = functools.reduce(torch.maximum, rows)
    columns = outputs.reshape(batch, height // window[0], width // window[1], window[1], channels).unbind(3)
    return functools.reduce(torch.maximum, columns)

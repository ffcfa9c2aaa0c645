"""Max pooling on a JAX CPU as a reshape and a max.

Keras runs max pooling on JAX as ``lax.reduce_window``, whose gradient XLA computes on a
CPU with ``select_and_scatter``: on the blog CRNN's four poolings (batch 16) that gradient
took 87 ms of a 615 ms training step, against 10 ms for the same windows reshaped into
their own axes and reduced with a max. Its route (``reshape_max_pool`` in
:mod:`kerasseq.accel`), :func:`use_reshape_max_pool`, sends Keras's JAX max pooling there wherever the
windows tile the input: channels-last 2-D pooling, strides equal to the pool size,
``valid`` padding, sizes that divide the input (every pooling of the CRNNs). The outputs
are identical; so are the gradients, except where a window holds its maximum more than
once (the reshaped max shares the gradient between the ties where ``reduce_window`` gives
it to the first; behind a ReLU, tied zeros get no gradient either way). Every other case,
a GPU, and every other backend are left to Keras.
"""

import keras
from keras.src.utils.argument_validation import standardize_tuple

from kerasseq.accel.keras_routes import keras_op, route


def use_reshape_max_pool(enabled=True):
    """Route (``enabled``) or stop routing JAX's CPU max pooling to the reshaped max.

    Idempotent; a no-op on other backends. Takes effect for layers called afterwards.
    """
    route("jax", {"max_pool": _max_pool}, enabled)


def _max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """``keras.src.backend.nn.max_pool``'s signature and result: inputs (batch, height,
    width, channels) -> (batch, height / pool height, width / pool width, channels)."""
    import jax
    import jax.numpy as jnp

    inputs = jnp.asarray(inputs)
    window = standardize_tuple(pool_size, 2, "pool_size")
    tiles = (
        jax.default_backend() == "cpu"
        and inputs.ndim == 4
        and (data_format or keras.config.image_data_format()) == "channels_last"
        and (strides is None or standardize_tuple(strides, 2, "strides") == window)
        and padding.lower() == "valid"
        and inputs.shape[1] % window[0] == 0
        and inputs.shape[2] % window[1] == 0
    )
    if not tiles:
        return keras_op("max_pool")(inputs, pool_size, strides, padding, data_format)
    _, height, width, channels = inputs.shape
    windows = inputs.reshape(-1, height // window[0], window[0], width // window[1], window[1], channels)
    return jnp.max(windows, axis=(2, 4))

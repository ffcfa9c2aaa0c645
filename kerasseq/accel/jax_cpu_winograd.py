"""JAX on a CPU: 3×3 convolutions by Winograd's minimal filtering F(2×2, 3×3).

XLA:CPU runs a convolution as one direct kernel (Eigen's or YNNPACK's). Winograd's
algorithm (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks") computes
each 2×2 block of a 3×3 convolution's output from the 4×4 block of input around it with
16 products per channel pair instead of 36: the input blocks and the kernel are
transformed by fixed matrices of 0, ±1 and ±½, the 16 transformed positions become 16
matrix products over the channels (one batched ``dot_general``, where XLA:CPU is fast and,
for bfloat16 operands with float32 results, uses the CPU's bfloat16 instructions), and an
inverse transform of the same kind gives the output. Gradients follow by differentiating
the same steps, so the backward pass is 16 matrix products per block too.

Its route (``winograd`` in :mod:`kerasseq.accel`), :func:`use_winograd_cpu_convolutions`, sends
Keras's JAX convolutions here where the algorithm applies as written: 2-D, channels-last,
3×3 kernels, stride 1, no dilation, no groups, ``same`` padding, even height and width,
at least :data:`MIN_CHANNELS` input channels and :data:`MIN_FILTERS` filters (the blog
CRNN's convolutions 3 to 6; below that the transforms cost what the products save).
Every other convolution, a GPU, and every other backend are left to Keras. The results
match the direct convolution's to float32 round-off (about 1e-6 relative;
``mixed_bfloat16`` rounds the transformed blocks to bfloat16 where the direct
convolution rounds the inputs).
"""

import keras

from kerasseq.accel.keras_routes import keras_op, route

#: Fewest input channels and filters for which the 16 matrix products beat XLA's direct
#: convolution on a 2-core Zen 4 EPYC (the blog CRNN's convolutions 3 to 6; its second,
#: 64 -> 128, and every convolution of the small preset, 16 to 128 filters, were no faster).
MIN_CHANNELS = 128
MIN_FILTERS = 256

_batched_product = None  # tile_products' custom-gradient function, made on first use


def use_winograd_cpu_convolutions(enabled=True):
    """Route (``enabled``) or stop routing JAX's CPU 3×3 convolutions to
    :func:`winograd_conv3x3`. Idempotent; a no-op on other backends. Takes effect for
    layers called afterwards."""
    route("jax", {"conv": _conv}, enabled)


def _conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """``keras.src.backend.nn.conv``'s signature and result."""
    import jax
    from keras.src.utils.argument_validation import standardize_tuple

    applies = (
        jax.default_backend() == "cpu"
        and len(inputs.shape) == 4
        and tuple(kernel.shape[:2]) == (3, 3)
        and kernel.shape[2] == inputs.shape[3] >= MIN_CHANNELS
        and kernel.shape[3] >= MIN_FILTERS
        and (data_format or keras.config.image_data_format()) == "channels_last"
        and standardize_tuple(strides, 2, "strides") == (1, 1)
        and standardize_tuple(dilation_rate, 2, "dilation_rate") == (1, 1)
        and padding.lower() == "same"
        and inputs.shape[1] % 2 == 0
        and inputs.shape[2] % 2 == 0
    )
    if not applies:
        return keras_op("conv")(inputs, kernel, strides, padding, data_format, dilation_rate)
    return winograd_conv3x3(inputs, kernel)


def _input_rows(d0, d1, d2, d3):
    """Bᵀ·d along one axis for 4 input positions: F(2, 3)'s input transform."""
    return [d0 - d2, d1 + d2, d2 - d1, d1 - d3]


def _kernel_rows(g0, g1, g2):
    """G·g along one axis for 3 kernel taps: F(2, 3)'s kernel transform."""
    return [g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2]


def _output_rows(m0, m1, m2, m3):
    """Aᵀ·m along one axis for 4 transformed positions: F(2, 3)'s output transform."""
    return [m0 + m1 + m2, m1 - m2 - m3]


def input_tiles(images):
    """images (batch, H, W, C), H and W even -> (16, batch·H/2·W/2, C): the transformed
    4×4 input block around each 2×2 output block (zero padding of 1 all round), one row
    per block, the 16 transformed positions first."""
    import jax.numpy as jnp

    batch, height, width, channels = images.shape
    rows, columns = height // 2, width // 2
    padded = jnp.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    pairs = padded.reshape(batch, rows + 1, 2, columns + 1, 2, channels)
    # the 4 input rows of block (r, c) are padded rows 2r .. 2r + 3: pair r + i // 2, half i % 2
    by_row = jnp.stack(_input_rows(*[pairs[:, i // 2:i // 2 + rows, i % 2] for i in range(4)]))
    by_column = _input_rows(*[by_row[:, :, :, j // 2:j // 2 + columns, j % 2] for j in range(4)])
    return jnp.stack(by_column, axis=1).reshape(16, batch * rows * columns, channels)


def kernel_tiles(kernel):
    """kernel (3, 3, C, O) -> (16, C, O): the transformed kernel, G·g·Gᵀ per channel pair."""
    import jax.numpy as jnp

    rows = _kernel_rows(kernel[0], kernel[1], kernel[2])
    transformed = jnp.stack([jnp.stack(_kernel_rows(row[0], row[1], row[2])) for row in rows])
    return transformed.reshape(16, *kernel.shape[2:])


def output_blocks(products, shape):
    """products (16, batch·H/2·W/2, O) -> (batch, H, W, O) for ``shape`` (batch, H, W, O):
    each block's 2×2 outputs, Aᵀ·m·A of its 16 transformed positions."""
    import jax.numpy as jnp

    batch, height, width, filters = shape
    m = products.reshape(4, 4, batch, height // 2, width // 2, filters)
    by_row = _output_rows(m[0], m[1], m[2], m[3])
    blocks = [jnp.stack(_output_rows(row[0], row[1], row[2], row[3]), axis=3) for row in by_row]
    return jnp.stack(blocks, axis=2).reshape(batch, height, width, filters)


def tiles_by_channel(images):
    """:func:`input_tiles` with each block's channels as rows: images (batch, H, W, C) ->
    (16, C, batch·H/2·W/2). Computed afresh from the images, not by transposing the
    tiles: XLA folds such a transpose into the matrix product that reads it, and XLA:CPU
    then runs that product (the kernel's gradient) off its fast path, 2-3× slower."""
    import jax.numpy as jnp

    batch, height, width, channels = images.shape
    one_channel = jnp.moveaxis(images, 3, 0).reshape(channels * batch, height, width, 1)
    return input_tiles(one_channel).reshape(16, channels, -1)


def _matmul(left, right, contract):
    """Batched over axis 0, contracting ``left``'s axis ``contract[0]`` with ``right``'s
    ``contract[1]``, float32 results."""
    import jax.numpy as jnp
    from jax import lax

    dimensions = (((contract[0],), (contract[1],)), ((0,), (0,)))
    return lax.dot_general(left, right, dimensions, preferred_element_type=jnp.float32)


def _products(tiles, kernels, images):
    return _matmul(tiles, kernels, contract=(2, 1))


def _products_forward(tiles, kernels, images):
    return _products(tiles, kernels, images), (kernels, images)


def _products_backward(saved, upstream):
    """The gradients as the same kind of product, each operand in row-major form: the
    float32 upstream gradient taken in the operands' dtype, sums in float32, results in
    the operands' dtype; none for the images, which only stand in for the tiles."""
    import jax.numpy as jnp

    kernels, images = saved
    dtype = kernels.dtype  # the tiles' too
    upstream = upstream.astype(dtype)
    tiles_gradient = _matmul(upstream, kernels, contract=(2, 2)).astype(dtype)
    kernels_gradient = _matmul(tiles_by_channel(images).astype(dtype), upstream, contract=(2, 1)).astype(dtype)
    return tiles_gradient, kernels_gradient, jnp.zeros_like(images)


def tile_products(tiles, kernels, images):
    """(16, P, C) × (16, C, O) -> (16, P, O) float32: one matrix product per transformed
    position, accumulated in float32 whatever the operands' dtype; so are both gradients,
    taken in the operands' dtype (bfloat16 operands run on the CPU's bfloat16
    dot-product instructions where it has them). ``images`` (batch, H, W, C) float32 are
    those ``tiles`` were made from: the kernels' gradient reads them again through
    :func:`tiles_by_channel`."""
    global _batched_product
    if _batched_product is None:
        import jax

        _batched_product = jax.custom_vjp(_products)
        _batched_product.defvjp(_products_forward, _products_backward)
    return _batched_product(tiles, kernels, images)


def winograd_conv3x3(images, kernel):
    """images (batch, H, W, C), H and W even; kernel (3, 3, C, O) -> (batch, H, W, O) in
    the kernel's dtype: the 3×3 convolution with ``same`` padding and stride 1 (XLA's
    ``conv_general_dilated`` with ``NHWC``/``HWIO``), by F(2×2, 3×3). Transforms run in
    float32; the 16 products take the kernel's dtype (bfloat16 under ``mixed_bfloat16``)
    and accumulate in float32."""
    import jax.numpy as jnp

    kernel = jnp.asarray(kernel)
    dtype = kernel.dtype  # as Keras's convolution, which casts the images to the kernel's dtype
    images = jnp.asarray(images).astype(jnp.float32)
    tiles = input_tiles(images).astype(dtype)
    kernels = kernel_tiles(kernel.astype(jnp.float32)).astype(dtype)
    shape = (*images.shape[:3], kernel.shape[3])
    return output_blocks(tile_products(tiles, kernels, images), shape).astype(dtype)

"""JAX on a CPU: 3×3 convolutions by Winograd's F(2×2, 3×3), with the direct convolution's
outputs and gradients."""

import functools

import keras
import numpy as np
import pytest

from tests.helpers import jax_outputs_and_gradients

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="routes the JAX backend only")


def direct_conv(images, kernel):
    from jax import lax

    return lax.conv_general_dilated(images, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def random_pair(shape, filters, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=(3, 3, shape[-1], filters)).astype("float32") / np.sqrt(9 * shape[-1])
    return images, kernel


def relative_error(got, expected):
    return float(np.max(np.abs(np.asarray(got, "float64") - expected)) / np.max(np.abs(expected)))


@pytest.mark.parametrize("shape, filters", [((2, 4, 6, 16), 8), ((3, 8, 2, 20), 5), ((1, 2, 32, 128), 256)])
def test_winograd_gives_the_direct_convolution_and_its_gradients(shape, filters):
    import jax

    from kerasseq.accel.jax_cpu_winograd import winograd_conv3x3

    images, kernel = random_pair(shape, filters)
    upstream = np.random.default_rng(1).normal(size=(*shape[:3], filters)).astype("float32")

    @functools.partial(jax.jit, static_argnums=0)
    def output_and_gradients(conv):
        output, vjp = jax.vjp(conv, images, kernel)
        return output, *vjp(upstream)

    expected = output_and_gradients(direct_conv)
    got = output_and_gradients(winograd_conv3x3)
    assert got[0].shape == expected[0].shape and got[0].dtype == np.float32
    for got_array, expected_array in zip(got, expected, strict=True):
        assert relative_error(got_array, np.asarray(expected_array)) < 1e-5


def equations(jaxpr):
    """Every equation of ``jaxpr`` and of the jaxprs inside it (jit, custom gradients)."""
    for equation in jaxpr.eqns:
        yield equation
        for value in equation.params.values():
            inner = getattr(value, "jaxpr", value)
            if hasattr(inner, "eqns"):
                yield from equations(inner)


def test_bfloat16_runs_every_product_on_bfloat16_operands_with_float32_sums():
    import jax
    import jax.numpy as jnp

    from kerasseq.accel.jax_cpu_winograd import winograd_conv3x3

    images, kernel = random_pair((2, 8, 8, 32), 16)
    images16, kernel16 = jnp.asarray(images, jnp.bfloat16), jnp.asarray(kernel, jnp.bfloat16)

    def loss(images, kernel):
        return jnp.sum(winograd_conv3x3(images, kernel).astype(jnp.float32) ** 2)

    jaxpr = jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(images16, kernel16).jaxpr
    products = [equation for equation in equations(jaxpr) if equation.primitive.name == "dot_general"]
    assert len(products) >= 3  # the forward product and both of its gradients
    for product in products:
        assert [variable.aval.dtype for variable in product.invars] == [jnp.bfloat16, jnp.bfloat16]
        assert product.params["preferred_element_type"] == jnp.float32
    got = winograd_conv3x3(images16, kernel16)
    assert got.dtype == jnp.bfloat16
    exact = np.asarray(direct_conv(images16.astype(jnp.float32), kernel16.astype(jnp.float32)))
    assert 1e-4 < relative_error(got, exact) < 3e-2  # bfloat16's 8-bit mantissa: close, not exact


@pytest.fixture
def keras_conv_calls(monkeypatch):
    from kerasseq.accel import jax_cpu_winograd, keras_routes

    jax_cpu_winograd.use_winograd_cpu_convolutions()  # as kerasseq.accel.enable() does
    calls, keras_conv = [], keras_routes.keras_op("conv")
    monkeypatch.setitem(keras_routes.KERAS_OPS, "conv", lambda *a, **k: calls.append(a[1].shape) or keras_conv(*a, **k))
    return calls


def conv_model(input_shape, *convolutions):
    keras.utils.set_random_seed(3)
    images = keras.Input(input_shape)
    features = images
    for filters, size, strides, padding in convolutions:
        features = keras.layers.Conv2D(filters, size, strides, padding, activation="relu")(features)
    return keras.Model(images, keras.layers.Dense(3)(features))


def test_a_keras_3x3_convolution_runs_as_winograd_with_keras_results(keras_conv_calls):
    from kerasseq.accel.jax_cpu_winograd import use_winograd_cpu_convolutions

    model = conv_model((6, 10, 128), (256, 3, 1, "same"), (256, 3, 1, "same"))
    inputs = np.random.default_rng(0).normal(size=(2, 6, 10, 128)).astype("float32")
    try:
        use_winograd_cpu_convolutions(False)
        keras_result = jax_outputs_and_gradients(model, inputs)
    finally:
        use_winograd_cpu_convolutions()
    keras_conv_calls.clear()
    routed = jax_outputs_and_gradients(model, inputs)
    assert keras_conv_calls == []
    for got, expected in zip(routed, keras_result, strict=True):
        assert relative_error(got, expected) < 1e-5


@pytest.mark.parametrize("input_shape, convolution", [
    ((6, 10, 128), (256, 3, 2, "same")),  # strided
    ((6, 10, 128), (256, 3, 1, "valid")),  # no padding
    ((6, 10, 128), (256, 5, 1, "same")),  # 5x5
    ((6, 9, 128), (256, 3, 1, "same")),  # odd width
    ((6, 10, 64), (256, 3, 1, "same")),  # too few input channels
    ((6, 10, 128), (128, 3, 1, "same")),  # too few filters
])
def test_other_convolutions_stay_with_keras(keras_conv_calls, input_shape, convolution):
    model = conv_model(input_shape, convolution)
    keras_conv_calls.clear()
    model(np.ones((1, *input_shape), "float32"))
    assert keras_conv_calls == [(convolution[1], convolution[1], input_shape[-1], convolution[0])]


@pytest.mark.parametrize("preset, keras_convolutions", [
    ("blog", [(3, 3, 1, 64), (3, 3, 64, 128), (2, 2, 512, 512)]),  # conv 1, 2 and 7
    ("small", [(3, 3, 1, 16), (3, 3, 16, 32), (3, 3, 32, 64), (3, 3, 64, 64), (3, 3, 64, 128), (3, 3, 128, 128),
               (2, 2, 128, 128)]),  # all seven: too few channels to gain
])
def test_the_blog_crnn_runs_its_convolutions_3_to_6_as_winograd(keras_conv_calls, preset, keras_convolutions):
    import jax

    from kerasseq.ocr.recognizer import build_crnn

    model = build_crnn(preset, charset="digits")
    keras_conv_calls.clear()
    jax.eval_shape(model, np.zeros((1, 32, 128, 1), "float32"))  # traces each convolution once
    assert keras_conv_calls == keras_convolutions

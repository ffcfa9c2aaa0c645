"""JAX on a CPU: convolutions on XLA's Eigen kernels, set through XLA_FLAGS."""

import json
from importlib import metadata

import keras
import numpy as np
import pytest

from kerasseq.accel.jax_cpu_convolutions import eigen_convolution_flags
from tests.helpers import python_output

OFF = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"


def test_the_flag_joins_other_flags_on_known_jaxlib_versions():
    assert eigen_convolution_flags("", "0.10.2") == OFF
    assert eigen_convolution_flags("--xla_force_host_platform_device_count=2", "0.11.0") == (
        "--xla_force_host_platform_device_count=2 " + OFF)


@pytest.mark.parametrize("flags, version", [
    ("--xla_cpu_experimental_ynn_fusion_type=+individual_convolution", "0.10.2"),  # the user's own choice
    ("", "0.9.1"), ("", "0.12.0"), ("", "1.0.0"), ("", "0.10rc1"), ("", None),  # flag maybe unknown there
])
def test_a_users_own_setting_and_unknown_jaxlib_versions_are_left_alone(flags, version):
    assert eigen_convolution_flags(flags, version) == flags


# A fresh process, since XLA reads its flags once: after kerasseq.accel.enable(), does a
# convolution leave YNNPACK while a dot stays, and what does the convolution compute?
PROBE = """
import json, os, sys
import jax, numpy as np
import kerasseq.accel
kerasseq.accel.enable()
x = np.random.default_rng(0).normal(size=(2, 8, 32, 64)).astype("float32")  # XLA sends a convolution this big to YNNPACK
k = np.random.default_rng(1).normal(size=(3, 3, 64, 64)).astype("float32") / 24
conv = jax.jit(lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
dot = jax.jit(lambda a, b: a @ b)
print(json.dumps({"flags": os.environ.get("XLA_FLAGS", ""),
                  "conv_ynn": "__ynn" in conv.lower(x, k).compile().as_text(),
                  "dot_ynn": "__ynn" in dot.lower(x[0, 0], k[0, 0]).compile().as_text(),
                  "conv": np.asarray(conv(x, k)).tolist()}))
"""


def probe(xla_flags):
    return json.loads(python_output(PROBE, {"KERAS_BACKEND": "jax", "XLA_FLAGS": xla_flags}))


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="routes the JAX backend only")
@pytest.mark.skipif(keras.backend.backend() == "jax" and eigen_convolution_flags("", metadata.version("jaxlib")) != OFF,
                    reason="this jaxlib is outside the 0.10-0.11 that pyproject pins and the route is tested on")
def test_enabling_the_routes_takes_convolutions_out_of_ynnpack_with_the_same_result():
    routed = probe(None)
    assert routed["flags"] == OFF and not routed["conv_ynn"] and routed["dot_ynn"]
    default = probe("--xla_cpu_experimental_ynn_fusion_type=+individual_convolution")  # kept: XLA's default
    assert default["conv_ynn"] and default["dot_ynn"]
    np.testing.assert_allclose(routed["conv"], default["conv"], rtol=1e-5, atol=1e-5)

"""TensorFlow on a CPU: the oneDNN route takes effect only before TensorFlow loads, leaves a
user's own setting alone, and computes Keras's convolutions and the shipped reader's
outputs to float32 rounding."""

import json

import keras
import numpy as np
import pytest

from tests.helpers import python_output, render_clean_words

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="routes the TensorFlow backend only")

# A fresh process, since TensorFlow reads its setting once, on import. The scripts' way:
# parse the arguments (which enables the routes) and only then import Keras.
PROBE = """
import json, sys
import numpy as np
from kerasseq.cli import make_parser, parse
parse(make_parser("probe", accel=True), sys.argv[1:])
import keras
from kerasseq import accel
from kerasseq.accel.tf_onednn import onednn_enabled
from kerasseq.ocr.inference import predict_probabilities
from kerasseq.ocr.predictor import load_recognizer, pretrained_model_path
import tensorflow as tf

data = np.load(DATA)
# one 3x3 convolution of the small CRNN's width; d(sum(y * upstream)) has the fixed gradient upstream
layer = keras.layers.Conv2D(64, 3, padding="same", use_bias=False)
layer.build(data["x"].shape)
layer.kernel.assign(data["kernel"])
x = tf.constant(data["x"])
with tf.GradientTape() as tape:
    tape.watch(x)
    y = layer(x)
    loss = tf.reduce_sum(y * data["upstream"])
dx, dkernel = tape.gradient(loss, [x, layer.kernel])
# what the rounding of each sum is bounded by: the same sums of absolute values
with tf.GradientTape() as tape:
    absolute = tf.constant(np.abs(data["x"]))
    tape.watch(absolute)
    magnitude = tf.nn.conv2d(absolute, np.abs(data["kernel"]), 1, "SAME")
    magnitude_loss = tf.reduce_sum(magnitude * np.abs(data["upstream"]))
dx_magnitude = tape.gradient(magnitude_loss, absolute)
dkernel_magnitude = tf.compat.v1.nn.conv2d_backprop_filter(absolute, data["kernel"].shape, np.abs(data["upstream"]), [1, 1, 1, 1], "SAME")
probabilities = predict_probabilities(load_recognizer(pretrained_model_path()), data["canvases"], 64)
np.savez(OUT, y=y.numpy(), dx=dx.numpy(), dkernel=dkernel.numpy(), y_magnitude=magnitude.numpy(),
         dx_magnitude=dx_magnitude.numpy(), dkernel_magnitude=dkernel_magnitude.numpy(), probabilities=probabilities)
print(json.dumps({"enabled": accel.enabled(), "onednn": onednn_enabled()}))
"""


def probe(tmp_path, name, *args, environment=None):
    """Run PROBE with the script arguments ``args`` -> (its JSON line, its arrays)."""
    out = tmp_path / f"{name}.npz"
    code = PROBE.replace("DATA", repr(str(tmp_path / "data.npz"))).replace("OUT", repr(str(out)))
    code = code.replace("sys.argv[1:]", repr(list(args)))
    line = python_output(code, {"TF_ENABLE_ONEDNN_OPTS": None, **(environment or {})}, timeout=600)
    return json.loads(line), np.load(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The probe with the routes on, and with the user's TF_ENABLE_ONEDNN_OPTS=0 (--no-accel is
    tested with the other routes, in test_accel.py)."""
    from kerasseq.ocr.images import load_canvas

    tmp_path = tmp_path_factory.mktemp("onednn")
    rng = np.random.default_rng(0)
    words = render_clean_words(tmp_path / "words", 24)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(4, 8, 32, 64)).astype("float32"),
             kernel=(rng.normal(size=(3, 3, 64, 64)) / 24).astype("float32"),
             upstream=rng.normal(size=(4, 8, 32, 64)).astype("float32"),
             canvases=np.stack([load_canvas(word[0], "resize") for word in words]))
    return {"on": probe(tmp_path, "on", "--backend", "tensorflow"),
            "user_off": probe(tmp_path, "user_off", "--backend", "tensorflow", environment={"TF_ENABLE_ONEDNN_OPTS": "0"})}


def test_the_route_turns_onednn_on_before_tensorflow_loads_and_leaves_a_users_setting_alone(runs):
    assert "onednn" in runs["on"][0]["enabled"] and runs["on"][0]["onednn"]
    assert "onednn" not in runs["user_off"][0]["enabled"] and not runs["user_off"][0]["onednn"]


def test_too_late_it_sets_nothing_and_is_listed_only_where_tensorflow_runs_onednn_anyway():
    code = ("import json, os\nimport tensorflow, keras\nfrom kerasseq import accel\n"
            "from kerasseq.accel.tf_onednn import onednn_enabled\n"
            "print(json.dumps([accel.enable(), onednn_enabled(), os.environ.get('TF_ENABLE_ONEDNN_OPTS')]))")
    enabled, onednn, setting = json.loads(python_output(code, {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": None}))
    assert setting is None and ("onednn" in enabled) == onednn


def test_convolutions_and_their_gradients_agree_to_float32_rounding_and_the_reader_reads_alike(runs):
    on, eigen = runs["on"][1], runs["user_off"][1]
    # each output is a sum of K products; summed in another order, it moves by at most
    # about 2 K u times the sum of the products' magnitudes (u = 2^-24, float32's unit roundoff)
    unit = 2.0 ** -24
    terms = {"y": 3 * 3 * 64, "dx": 3 * 3 * 64, "dkernel": 4 * 8 * 32}
    for name, count in terms.items():
        bound = 2 * count * unit * eigen[f"{name}_magnitude"]
        assert np.all(np.abs(on[name] - eigen[name]) <= bound), name
    assert np.array_equal(on["probabilities"].argmax(-1), eigen["probabilities"].argmax(-1))
    assert np.abs(on["probabilities"] - eigen["probabilities"]).max() < 1e-3

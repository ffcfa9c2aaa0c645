"""kerasseq.accel: nothing routed by importing kerasseq, every route behind enable()."""

import json

import keras
import pytest

from kerasseq import accel
from tests.helpers import python_output

BACKEND = keras.backend.backend()
EXPECTED = {"torch": ["fused_lstm", "channels_last", "fused_batchnorm", "fused_adam", "weight_cache", "lean_inference", "traced_inference"],
            "jax": ["eigen_convolutions", "reshape_max_pool", "winograd"], "tensorflow": ["tf_fused_lstm", "tf_fused_batchnorm", "tf_fused_adam", "onednn"]}
#: routes that cannot be undone once the backend has started
LASTING = {"torch": [], "jax": ["eigen_convolutions"], "tensorflow": ["onednn"]}

STATE = """
import importlib, json, os, sys
import keras
from keras.src import backend
import kerasseq, kerasseq.ocr.recognizer, kerasseq.tasks.common
from kerasseq import accel
kerasseq.ocr.recognizer.build_crnn("small")
keras_ops = {name: getattr(backend.nn, name) for name in ("conv", "max_pool")}
from keras.src.layers.convolutional.base_conv import BaseConv
from keras.src.models.functional import Functional
keras_lstm, keras_batchnorm, keras_conv_call, keras_functional_call = (backend.lstm, keras.layers.BatchNormalization.call,
                                                                       BaseConv.call, Functional.call)
variable_class = backend.Variable
keras_autocast = variable_class._maybe_autocast
adam_module, adam_step = {"torch": ("keras.src.backend.torch.optimizers.torch_adam", "_parallel_update_step")}.get(
    keras.backend.backend(), ("keras.src.optimizers.adam", "update_step"))
adam_class = importlib.import_module(adam_module).Adam
keras_adam_step = getattr(adam_class, adam_step)
def routed():
    return ([n for n, f in keras_ops.items() if getattr(backend.nn, n) is not f] + (["lstm"] if backend.lstm is not keras_lstm else [])
            + (["batchnorm"] if keras.layers.BatchNormalization.call is not keras_batchnorm else [])
            + (["conv_bias"] if BaseConv.call is not keras_conv_call else [])
            + (["functional_call"] if Functional.call is not keras_functional_call else [])
            + (["weight_cast"] if variable_class._maybe_autocast is not keras_autocast else [])
            + (["adam_step"] if getattr(adam_class, adam_step) is not keras_adam_step else []))
before = {"routed": routed(), "flags": os.environ.get("XLA_FLAGS", "")}
args = sys.argv[1:]
if args:
    from kerasseq.cli import make_parser, parse
    parse(make_parser("test", accel=True), args)
else:
    accel.enable()
after = {"routed": routed(), "enabled": accel.enabled()}
accel.disable()
print(json.dumps({"before": before, "after": after, "restored": routed(), "left": accel.enabled()}))
"""


def state(*args, environment=None):
    code = STATE.replace("args = sys.argv[1:]", f"args = {list(args)!r}")
    # Keras is loaded before the routes here, too late for TensorFlow's oneDNN switch: it is set
    # beforehand, as the route would, so that TensorFlow runs oneDNN and the route is listed
    return json.loads(python_output(code, {"KERAS_BACKEND": BACKEND, "XLA_FLAGS": "", "TF_ENABLE_ONEDNN_OPTS": "1",
                                           **(environment or {})}))


def test_importing_kerasseq_routes_nothing_and_enable_routes_this_backends_ops():
    result = state()
    assert result["before"] == {"routed": [], "flags": ""}  # models built, tasks imported: Keras untouched
    assert result["after"]["enabled"] == EXPECTED[BACKEND]
    routed = {"torch": {"conv", "max_pool", "lstm", "batchnorm", "conv_bias", "functional_call", "weight_cast", "adam_step"},
              "jax": {"conv", "max_pool"},
              "tensorflow": {"lstm", "batchnorm", "adam_step"}}[BACKEND]
    assert set(result["after"]["routed"]) == routed
    # disable gives Keras its ops back; the XLA flag and oneDNN cannot be taken back once set
    assert result["restored"] == [] and result["left"] == LASTING[BACKEND]


@pytest.mark.slow
def test_the_scripts_switch_routes_on_unless_told_not_to():
    assert state("--backend", BACKEND)["after"]["enabled"] == EXPECTED[BACKEND]
    assert state("--backend", BACKEND, "--no-accel")["after"]["enabled"] == []
    assert state("--backend", BACKEND, environment={"KERASSEQ_ACCEL": "0"})["after"]["enabled"] == []


def test_an_unknown_route_is_refused():
    with pytest.raises(ValueError, match="unknown route"):
        accel.enable(["sparkles"])
    assert set(accel.ROUTES) == {name for names in EXPECTED.values() for name in names}

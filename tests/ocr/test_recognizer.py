import os

import keras
import numpy as np
import pytest

from kerasseq.errors import ModelError
from kerasseq.ocr.recognizer import Recognizer, build_crnn
from tests.helpers import ROOT

BLOG_LAYERS = [
    ("images", (None, 32, 128, 1)), ("conv1", (None, 32, 128, 64)), ("pool1", (None, 16, 64, 64)),
    ("conv2", (None, 16, 64, 128)), ("pool2", (None, 8, 32, 128)), ("conv3", (None, 8, 32, 256)),
    ("conv4", (None, 8, 32, 256)), ("pool4", (None, 4, 32, 256)), ("conv5", (None, 4, 32, 512)),
    ("batchnorm5", (None, 4, 32, 512)), ("conv6", (None, 4, 32, 512)), ("batchnorm6", (None, 4, 32, 512)),
    ("pool6", (None, 2, 32, 512)), ("conv7", (None, 1, 31, 512)), ("squeeze_height", (None, 31, 512)),
    ("bilstm1", (None, 31, 256)), ("bilstm2", (None, 31, 256)), ("classes", (None, 31, 63)),
]


def test_blog_preset_is_the_reference_network():
    model = build_crnn("blog")
    assert [(layer.name, tuple(layer.output.shape)) for layer in model.layers] == BLOG_LAYERS
    assert model.count_params() == 6_619_711
    convs = [layer for layer in model.layers if layer.name.startswith("conv")]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 6 + [(2, 2)]
    assert [c.padding for c in convs] == ["same"] * 6 + ["valid"]
    assert [layer.pool_size for layer in model.layers if layer.name.startswith("pool")] == [(2, 2), (2, 2), (2, 1), (2, 1)]
    lstm = model.get_layer("bilstm1").forward_layer
    assert lstm.units == 128 and lstm.dropout == 0.2 and lstm.return_sequences
    assert model.get_layer("classes").activation.__name__ == "softmax"


@pytest.mark.parametrize("preset, steps, convolutions", [("small", 31, 7), ("rnn", 128, 0)])
def test_other_presets(preset, steps, convolutions):
    model = build_crnn(preset, charset="digits")
    assert model.output_shape == (None, steps, 11)
    assert model.time_steps == steps
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == convolutions
    assert model.count_params() < 6_619_711 / 4


def test_unknown_preset_is_refused():
    with pytest.raises(ModelError, match="unknown preset"):
        build_crnn("huge")


def test_save_load_keeps_charset_mode_and_predictions(tmp_path):
    model = build_crnn("small", charset="abc", preprocess_mode="blog")
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Recognizer)
    assert loaded.charset.characters == "abc" and loaded.preprocess_mode == "blog"
    images = np.random.default_rng(0).random((3, 32, 128, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


@pytest.mark.slow
def test_a_model_saved_on_this_backend_predicts_the_same_on_the_other_two(tiny_words, tmp_path):
    import subprocess
    import sys

    from kerasseq.data.sources import find_source
    from kerasseq.ocr.images import load_canvas
    from kerasseq.ocr.predictor import load_recognizer

    # the shipped, trained reader on real words: confident, peaked outputs, not an
    # untrained model's near-uniform ones, which any backend gets close to
    model = load_recognizer()
    items = find_source(str(tiny_words)).items[:8]
    images = np.stack([load_canvas(item.path) for item in items])[..., None].astype(np.float32) / 255.0
    np.save(tmp_path / "images.npy", images)
    model.save(tmp_path / "m.keras")
    expected = model.predict(images, verbose=0)
    assert expected.max(axis=-1).mean() > 0.9
    code = ("import sys, numpy as np, keras; from kerasseq.ocr.recognizer import Recognizer; "
            "m = keras.saving.load_model(sys.argv[1]); assert isinstance(m, Recognizer); "
            "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0))")
    for backend in {"tensorflow", "jax", "torch"} - {keras.backend.backend()}:
        out = tmp_path / f"{backend}.npy"
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.keras"), str(tmp_path / "images.npy"), str(out)],
                       check=True, env={**os.environ, "KERAS_BACKEND": backend}, cwd=ROOT, timeout=300)
        np.testing.assert_allclose(np.load(out), expected, atol=2e-5, err_msg=backend)


@pytest.mark.parametrize("gpu", [False, True])
def test_mixed_bfloat16_lstms_compute_in_float32_only_on_a_jax_gpu(gpu, monkeypatch):
    # Keras's cuDNN LSTM on a JAX GPU fails to lower bfloat16 (seen on an H100)
    if keras.backend.backend() == "jax":
        import jax

        monkeypatch.setattr(jax, "default_backend", lambda: "gpu" if gpu else "cpu")
    model = build_crnn("small", precision="mixed_bfloat16")
    lstm_policies = {model.get_layer(f"bilstm{i}").dtype_policy.name for i in (1, 2)}
    jax_gpu = gpu and keras.backend.backend() == "jax"
    assert lstm_policies == {"float32" if jax_gpu else "mixed_bfloat16"}
    assert model.get_layer("conv1").dtype_policy.name == "mixed_bfloat16"

"""Shared fixtures: small rendered word sets, datasets built from them, a trained model.

Everything is generated (nothing downloaded) and small, so the whole suite runs on
each of the three backends within CI's budget.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    """The suite runs kerasseq as its scripts do: with the speed routes of kerasseq.accel on,
    switched on before the backend's first computation (an XLA flag is among them)."""
    from kerasseq import accel

    if accel.wanted():
        accel.enable()
#: Short words the tiny model learns to read perfectly.
TINY_WORDS = ["cat", "dog", "sun", "map", "Key", "BOX", "42", "708"]


def jax_outputs_and_gradients(model, inputs):
    """On the JAX backend, the model's output on ``inputs`` and d(sum of squared
    outputs)/d(inputs, each weight), as NumPy arrays, computed in one jitted call."""
    import jax
    import jax.numpy as jnp

    def loss(inputs, weights):
        outputs = model.stateless_call(weights, [], inputs)[0]
        return jnp.sum(outputs ** 2), outputs

    weights = [v.value for v in model.trainable_variables]
    gradients, outputs = jax.jit(jax.grad(loss, argnums=(0, 1), has_aux=True))(jnp.asarray(inputs), weights)
    return [np.asarray(outputs)] + [np.asarray(g) for g in jax.tree.leaves(gradients)]


def load_script(name):
    """Import ``scripts/NAME.py`` or ``data_prep/NAME.py`` as a module (its ``main``)."""
    for folder in ("scripts", "data_prep"):
        path = os.path.join(ROOT, folder, f"{name}.py")
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise FileNotFoundError(name)


def run_script(name, *args, backend=None, timeout=600):
    """Run a script in a fresh interpreter -> CompletedProcess (text output)."""
    path = next(os.path.join(ROOT, f, f"{name}.py") for f in ("scripts", "data_prep")
                if os.path.exists(os.path.join(ROOT, f, f"{name}.py")))
    env = dict(os.environ)
    if backend:
        env["KERAS_BACKEND"] = backend
    return subprocess.run([sys.executable, path, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def python_output(code, environment, timeout=300):
    """Run ``code`` with ``python -c`` in a fresh interpreter whose environment is this
    one's with ``environment`` applied (a name mapped to None is removed) -> the last line
    it printed; fails the test if it exits non-zero."""
    env = {**os.environ, **environment}
    env = {name: value for name, value in env.items() if value is not None}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """240 rendered words, 2 fonts held out (labels.tsv with a split column)."""
    from data_prep.rendering import render_dataset

    out = tmp_path_factory.mktemp("rendered")
    rows = render_dataset(str(out), 240, seed=3, workers=1, holdout_fonts=2, val_share=0.2, progress=False)
    return out, rows


@pytest.fixture(scope="session")
def dataset(rendered, tmp_path_factory):
    """The rendered words preprocessed (resize mode, font-disjoint split), shards of 64."""
    from data_prep.building import PreprocessConfig, build_dataset

    out = tmp_path_factory.mktemp("dataset")
    build_dataset(str(rendered[0]), str(out), PreprocessConfig(workers=1, shard_size=64), progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_words(tmp_path_factory):
    """TINY_WORDS drawn 4 times each in clean black-on-white, ready to overfit."""
    from data_prep.rendering import RenderOptions, render_dataset

    out = tmp_path_factory.mktemp("tiny_words")
    options = RenderOptions(disabled=("rotate", "shear", "blur", "noise", "jpeg", "invert", "stroke", "levels",
                                      "lowres"),
                            digit_share=0.0)
    fonts = [os.path.join("/usr/share/fonts/truetype/dejavu", f) for f in ("DejaVuSans.ttf", "DejaVuSerif.ttf")]
    fonts = [f for f in fonts if os.path.exists(f)] or None
    render_dataset(str(out), 32, words=TINY_WORDS, fonts=fonts, seed=1, workers=1, options=options, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_words, tmp_path_factory):
    """A small CRNN trained until it reads every tiny word; (model path, dataset folder, accuracy)."""
    import keras

    from data_prep.building import PreprocessConfig, build_dataset
    from kerasseq.batches import normalise
    from kerasseq.dataset import open_split
    from kerasseq.decoding import greedy_decode
    from kerasseq.models import build_crnn
    from kerasseq.training import compile_recognizer

    folder = tmp_path_factory.mktemp("tiny")
    data = str(folder / "data")
    build_dataset(str(tiny_words), data, PreprocessConfig(workers=1, val_every=0), progress=False)
    images, labels = open_split(data, "train").arrays()
    texts = open_split(data, "train").texts
    keras.utils.set_random_seed(0)
    model = build_crnn("small", charset="alnum", dropout=0.0)
    compile_recognizer(model, learning_rate=3e-3)
    accuracy = 0.0
    for _ in range(60):
        model.fit(normalise(images), labels, batch_size=16, epochs=10, verbose=0)
        readings = greedy_decode(model.predict(normalise(images), verbose=0), model.charset)
        accuracy = float(np.mean([r.text == t for r, t in zip(readings, texts)]))
        if accuracy == 1.0:
            break
    path = str(folder / "model.keras")
    model.save(path)
    return path, data, accuracy

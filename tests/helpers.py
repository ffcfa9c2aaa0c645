"""Helpers the tests share: paths, running scripts and code in fresh interpreters, JAX
gradients, running a script's main here, and the speed routes restored. Fixtures live in conftest.py."""

import contextlib
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from kerasseq.cli import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

@contextlib.contextmanager
def routes_restored():
    """On exit, :mod:`kerasseq.accel`'s routes as they were on entry, however the body
    switched them (through ``accel`` or a route's own switch)."""
    from kerasseq import accel

    was_enabled = accel.enabled()
    try:
        yield
    finally:
        others = [name for name in accel.ROUTES if name not in was_enabled]
        if others:  # an empty list would name every route
            accel.disable(others)
        if was_enabled:
            accel.enable(was_enabled)  # each switched on again, even one switched off directly


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


def call(name, args, capsys):
    """Run a script's main in this process -> (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        run(load_script(name).main, [str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def run_script(name, *args, backend=None, timeout=600, environment=None):
    """Run a script in a fresh interpreter -> CompletedProcess (text output); its environment
    is this one's with ``environment`` applied (a name mapped to None is removed)."""
    path = next(os.path.join(ROOT, f, f"{name}.py") for f in ("scripts", "data_prep")
                if os.path.exists(os.path.join(ROOT, f, f"{name}.py")))
    env = {name: value for name, value in {**os.environ, **(environment or {})}.items() if value is not None}
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


def fit(model, inputs, targets, learning_rate, epochs, batch_size=64):
    """Compile ``model`` with Adam and MSE and fit it silently -> the model."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    model.fit(inputs, targets, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def render_clean_words(folder, count):
    """Render ``count`` clean words (black on white, 32 px) into ``folder`` in two DejaVu
    faces the test chooses, the same on every machine (a machine's own held-out fonts may
    be anything from a hairline face to a pictograph font) -> [(path, text, font)]."""
    from data_prep.benchmark_splits import SPLIT_OPTIONS
    from data_prep.rendering import bundled_fonts_folder, render_dataset
    from kerasseq.benchmarks.readers import labelled_images

    fonts = [os.path.join(bundled_fonts_folder(), name) for name in ("DejaVuSans.ttf", "DejaVuSerif.ttf")]
    render_dataset(str(folder), count, fonts=fonts, seed=5, workers=1, val_share=0.0, options=SPLIT_OPTIONS["clean"],
                   progress=False)
    return labelled_images(str(folder))

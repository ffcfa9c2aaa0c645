"""Shared fixtures: small rendered word sets, datasets built from them, a trained model.

Everything is generated (nothing downloaded) and small, so the whole suite runs on
each of the three backends within CI's budget.
"""

import os
import shutil
import tempfile

import numpy as np
import pytest

from tests.helpers import TINY_WORDS

#: caches that the suite's processes share for one run, in a folder that pytest-xdist's workers
#: and every script a test starts inherit: the persistent XLA compilation cache (JAX compiles the
#: same small networks again in each process; a cached program is the same program, loaded
#: instead of compiled) and kerasseq's own (the font checks, see data_prep.font_verdicts)
RUN_CACHES = {"JAX_COMPILATION_CACHE_DIR": "jax", "KERASSEQ_CACHE_DIR": "kerasseq"}
JAX_CACHE_EVERYTHING = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def pytest_configure(config):
    """The suite runs kerasseq as its scripts do: with the speed routes of kerasseq.accel on,
    switched on before the backend loads (an XLA flag and TensorFlow's oneDNN switch are among them).
    The first process (pytest-xdist's controller, or pytest alone) makes the run's cache folder."""
    from kerasseq import accel

    if "KERASSEQ_CACHE_DIR" not in os.environ:
        config.run_caches = tempfile.mkdtemp(prefix="kerasseq-tests-")
        os.environ.update(JAX_CACHE_EVERYTHING, **{name: os.path.join(config.run_caches, folder)
                                                   for name, folder in RUN_CACHES.items()})
    if accel.wanted():
        accel.enable()


def pytest_unconfigure(config):
    """The process that made the run's cache folder removes it."""
    if getattr(config, "run_caches", None):
        shutil.rmtree(config.run_caches, ignore_errors=True)


#: fixtures that take a minute or more to build: under pytest-xdist's ``--dist loadgroup`` (as
#: ``make test`` runs), the tests that use one of them go to one worker, which builds it once
BUILT_ONCE = ("tiny_model", "uninterrupted", "kept_run")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """Group the tests of each slow fixture, and start with those groups and the tests marked
    slow: the longest work first, so that the workers finish together."""
    for item in items:
        shared = [name for name in BUILT_ONCE if name in item.fixturenames]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
    items.sort(key=lambda item: (item.get_closest_marker("xdist_group") is None, item.get_closest_marker("slow") is None))


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
    """A narrow CRNN trained until it reads every tiny word; (model path, dataset folder, accuracy)."""
    import keras

    from data_prep.building import PreprocessConfig, build_dataset
    from kerasseq.data.dataset import open_split
    from kerasseq.ocr.decoding import greedy_decode
    from kerasseq.ocr.images import normalise
    from kerasseq.ocr.recognizer import build_crnn
    from kerasseq.training.trainer import compile_recognizer

    folder = tmp_path_factory.mktemp("tiny")
    data = str(folder / "data")
    build_dataset(str(tiny_words), data, PreprocessConfig(workers=1, val_every=0), progress=False)
    images, labels = open_split(data, "train").arrays()
    texts = open_split(data, "train").texts
    keras.utils.set_random_seed(0)
    # the small preset at half its convolution widths: its CTC plateau ends after 500-800 updates
    # of 8 images on every backend, at half the small preset's time per update
    model = build_crnn("small", charset="alnum", dropout=0.0, filters=[8, 16, 32, 32, 64, 64, 64])
    compile_recognizer(model, learning_rate=3e-3)
    accuracy = 0.0
    for _ in range(100):
        model.fit(normalise(images), labels, batch_size=8, epochs=5, verbose=0)
        readings = greedy_decode(model.predict(normalise(images), verbose=0), model.charset)
        accuracy = float(np.mean([r.text == t for r, t in zip(readings, texts)]))
        if accuracy == 1.0:
            break
    path = str(folder / "model.keras")
    model.save(path)
    return path, data, accuracy

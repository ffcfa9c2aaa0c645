"""The shipped word recogniser: present, small, loads on this backend, reads clean, low-resolution
and thin-face words drawn in fonts held out of its training, and is what predict.py uses
without --model."""

import os

import cv2
import pytest

from data_prep.benchmark_splits import SPLIT_OPTIONS, recorded_held_out_fonts, thin_or_condensed
from data_prep.rendering import render_dataset
from kerasseq.data.font_record import read_font_record
from kerasseq.data.sources import find_source
from kerasseq.errors import ModelError
from kerasseq.ocr.metrics import word_accuracy
from kerasseq.ocr.predictor import Predictor, load_recognizer, pretrained_model_path
from tests.helpers import run_script

WORDS = ["hello", "World", "KERAS", "2026", "reading", "Model", "text", "Python", "number", "42", "Garden", "river"]


@pytest.fixture(scope="module")
def held_out_fonts():
    """The fonts the shipped model's record holds out, those installed here; skips where none
    is, since any other font may be one it trained on."""
    fonts, _, _ = recorded_held_out_fonts(*read_font_record(pretrained_model_path()))
    if not fonts:
        pytest.skip("none of the shipped model's held-out fonts (kerasseq/resources/words_alnum.heldout.txt) is installed")
    return fonts


def render_words(folder, split, fonts):
    """WORDS drawn 4 times each as ``split`` of the readers benchmark draws them -> the items."""
    render_dataset(str(folder), 48, words=WORDS, fonts=fonts, seed=7, workers=1, options=SPLIT_OPTIONS[split],
                   progress=False)
    return find_source(str(folder)).items


@pytest.fixture(scope="module")
def shipped_reader():
    """A predictor on the shipped model, loaded once for the module."""
    return Predictor(load_recognizer())


def read_words(reader, items):
    """``reader`` on the rendered ``items`` -> (word accuracy, [(reading, truth)])."""
    texts = [p.text for p in reader.read_files([item.path for item in items])]
    truth = [item.text for item in items]
    return word_accuracy(texts, truth), list(zip(texts, truth))


@pytest.fixture(scope="module")
def clean_words(held_out_fonts, tmp_path_factory):
    """WORDS drawn clean in the held-out fonts."""
    return render_words(tmp_path_factory.mktemp("clean_words"), "clean", held_out_fonts)


def test_the_shipped_model_is_small_and_reads_letters_and_digits_case_sensitively():
    path = pretrained_model_path()
    assert os.path.getsize(path) <= 30 * 2**20
    model = load_recognizer()
    assert model.charset.characters == "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    assert model.output_shape == (None, 31, 63)


def test_it_reads_clean_words_in_fonts_it_never_trained_on(shipped_reader, clean_words):
    accuracy, readings = read_words(shipped_reader, clean_words)
    assert accuracy >= 0.8, readings


def test_it_reads_words_12_to_18_pixels_high_in_fonts_it_never_trained_on(shipped_reader, held_out_fonts, tmp_path):
    items = render_words(tmp_path, "lowres", held_out_fonts)
    assert max(cv2.imread(item.path, cv2.IMREAD_GRAYSCALE).shape[0] for item in items) <= 18
    accuracy, readings = read_words(shipped_reader, items)
    assert accuracy >= 0.8, readings


def test_it_reads_words_in_thin_and_condensed_faces_it_never_trained_on(shipped_reader, held_out_fonts, tmp_path):
    thin = thin_or_condensed(held_out_fonts)
    if not thin:
        pytest.skip("none of the shipped model's held-out fonts installed here is a thin or condensed face")
    accuracy, readings = read_words(shipped_reader, render_words(tmp_path, "thin", thin))
    assert accuracy >= 0.8, readings


def test_predict_without_model_uses_it(shipped_reader, clean_words):
    item = clean_words[0]
    done = run_script("predict", item.path)
    assert done.returncode == 0, done.stderr
    path, text, confidence = done.stdout.strip().split("\t")
    assert path == item.path and text == shipped_reader.read_files([item.path])[0].text
    assert 0 < float(confidence) <= 1


def test_a_copy_without_the_model_says_to_pass_one(monkeypatch):
    monkeypatch.setattr("kerasseq.ocr.predictor.PRETRAINED_MODEL", "missing.keras")
    with pytest.raises(ModelError, match="pass --model"):
        load_recognizer()

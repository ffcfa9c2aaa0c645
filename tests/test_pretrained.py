"""The shipped word recogniser: present, small, loads on this backend, reads clean words
drawn in fonts held out of its training, and is what predict.py uses without --model."""

import os

import pytest

from conftest import run_script
from data_prep.benchmark_splits import SPLIT_OPTIONS
from data_prep.rendering import PILLOW_FONT, find_fonts, render_dataset
from kerasseq.errors import ModelError
from kerasseq.predictor import Predictor, load_recognizer, pretrained_model_path
from kerasseq.sources import find_source

#: Fonts that render_words.py --holdout-fonts 20 --seed 0 held out of the shipped model's
#: training data on the machine that made it (README, "Shipped model").
HELD_OUT_FONTS = ("Lato-SemiboldItalic.ttf", "OpenSans-BoldItalic.ttf", "LinLibertine_M.otf", "GilliusADF-Italic.otf",
                  "FiraCode-Medium.ttf", "Go-Bold-Italic.ttf", "DejaVuSansCondensed-Oblique.ttf",
                  "DejaVuSansCondensed-Bold.ttf", "DejaVuSerifCondensed.ttf", "URWGothic-DemiOblique.otf",
                  "Oxygen-Sans-Bold.ttf", "FreeSansOblique.ttf", "URWBookman-Demi.otf", "ComicNeue-Bold.otf")
WORDS = ["hello", "World", "KERAS", "2026", "reading", "Model", "text", "Python", "number", "42", "Garden", "river"]


@pytest.fixture(scope="module")
def clean_words(tmp_path_factory):
    """WORDS drawn clean in the held-out fonts installed here; on a machine with none of them,
    in Pillow's embedded font (one of its training fonts). The shipped model reads 48 of 48
    in the held-out fonts here and 47 of 48 in Pillow's."""
    fonts = [f for f in find_fonts() if os.path.basename(f) in HELD_OUT_FONTS] or [PILLOW_FONT]
    out = tmp_path_factory.mktemp("clean_words")
    render_dataset(str(out), 48, words=WORDS, fonts=fonts, seed=7, workers=1, options=SPLIT_OPTIONS["clean"],
                   progress=False)
    return find_source(str(out)).items


def test_the_shipped_model_is_small_and_reads_letters_and_digits_case_sensitively():
    path = pretrained_model_path()
    assert os.path.getsize(path) <= 30 * 2**20
    model = load_recognizer()
    assert model.charset.characters == "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    assert model.output_shape == (None, 31, 63)


def test_it_reads_clean_words_in_fonts_it_never_trained_on(clean_words):
    predictions = Predictor(load_recognizer()).read_files([item.path for item in clean_words])
    correct = sum(p.text == item.text for p, item in zip(predictions, clean_words))
    assert correct >= 0.8 * len(clean_words), [(p.text, i.text) for p, i in zip(predictions, clean_words)]


def test_predict_without_model_uses_it(clean_words):
    item = clean_words[0]
    done = run_script("predict", item.path)
    assert done.returncode == 0, done.stderr
    path, text, confidence = done.stdout.strip().split("\t")
    assert path == item.path and text == Predictor(load_recognizer()).read_files([item.path])[0].text
    assert 0 < float(confidence) <= 1


def test_a_copy_without_the_model_says_to_pass_one(monkeypatch):
    monkeypatch.setattr("kerasseq.predictor.PRETRAINED_MODEL", "missing.keras")
    with pytest.raises(ModelError, match="pass --model"):
        load_recognizer()

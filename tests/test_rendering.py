import hashlib
import os

import numpy as np
import pytest

from data_prep.rendering import PILLOW_FONT, RenderOptions, find_fonts, render_dataset
from kerasseq.charset import Charset
from kerasseq.errors import DataError
from kerasseq.images import read_gray


def digests(folder, rows):
    return [hashlib.sha1(open(os.path.join(folder, row[0]), "rb").read()).hexdigest() for row in rows]


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path):
    one = render_dataset(str(tmp_path / "one"), 150, seed=5, workers=1, progress=False)
    two = render_dataset(str(tmp_path / "two"), 150, seed=5, workers=2, progress=False)
    assert one == two
    assert digests(tmp_path / "one", one) == digests(tmp_path / "two", two)
    assert (tmp_path / "one" / "labels.tsv").read_bytes() == (tmp_path / "two" / "labels.tsv").read_bytes()
    other = render_dataset(str(tmp_path / "other"), 150, seed=6, workers=1, progress=False)
    assert digests(tmp_path / "other", other) != digests(tmp_path / "one", one)


def test_rendered_words_have_variety_and_fit_the_charset(rendered):
    folder, rows = rendered
    charset = Charset.from_spec("alnum")
    texts = [row[1] for row in rows]
    assert all(text and not charset.unknown_characters(text) for text in texts)
    assert any(t.isdigit() for t in texts) and any(t.isupper() and len(t) > 1 for t in texts)
    assert any(t[0].isupper() and t[1:].islower() for t in texts if len(t) > 1)
    images = [read_gray(os.path.join(folder, row[0])) for row in rows[:60]]
    assert all(image.shape[0] == 32 for image in images)
    assert len({image.shape[1] for image in images}) > 20  # word widths vary
    backgrounds = [int(np.median(image)) for image in images]
    assert min(backgrounds) < 128 < max(backgrounds)  # some are inverted


def test_holdout_fonts_are_only_used_for_validation(rendered):
    _, rows = rendered
    val_fonts = {row[2] for row in rows if row[3] == "val"}
    train_fonts = {row[2] for row in rows if row[3] == "train"}
    assert len(val_fonts) == 2 and not val_fonts & train_fonts and len(train_fonts) > 2
    assert 0.1 < sum(row[3] == "val" for row in rows) / len(rows) < 0.3


def test_effects_switch_off_and_a_lexicon_is_used(tmp_path):
    options = RenderOptions(disabled=("size", "stroke", "levels", "invert", "rotate", "shear", "blur", "noise", "jpeg",
                                      "padding"), digit_share=0.0)
    rows = render_dataset(str(tmp_path), 20, words=["plain"], fonts=find_fonts()[:1], workers=1, options=options,
                          progress=False)
    assert {row[1] for row in rows} <= {"plain", "Plain", "PLAIN"}
    images = [read_gray(tmp_path / row[0]) for row in rows]
    assert all(set(np.unique(image)) <= set(range(256)) and image.min() < 60 and image.max() == 255 for image in images)
    same_case = [image for image, row in zip(images, rows) if row[1] == rows[0][1]]
    assert all(np.array_equal(image, same_case[0]) for image in same_case)  # nothing random left


def test_pillow_font_is_always_available():
    assert find_fonts()[-1] == PILLOW_FONT
    assert find_fonts([PILLOW_FONT]) == [PILLOW_FONT]  # and can be asked for alone


def test_one_font_file_in_two_folders_counts_once(tmp_path):
    # two packages shipping the same file: holding one copy out must not leave the other in training
    source = next(f for f in find_fonts() if f != PILLOW_FONT)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "Same.ttf").write_bytes(open(source, "rb").read())
    (tmp_path / "b" / "Other.ttf").write_bytes(open(source, "rb").read())
    assert find_fonts([str(tmp_path)]) == [str(tmp_path / "a" / "Same.ttf"), str(tmp_path / "b" / "Other.ttf")]
    rows = render_dataset(str(tmp_path / "out"), 30, fonts=[str(tmp_path)], seed=0, workers=1, holdout_fonts=1,
                          val_share=0.5, progress=False)
    val_fonts, train_fonts = ({row[2] for row in rows if row[3] == split} for split in ("val", "train"))
    assert len(val_fonts) == len(train_fonts) == 1 and not val_fonts & train_fonts


def test_bad_render_requests_are_refused(tmp_path):
    with pytest.raises(DataError, match="--count"):
        render_dataset(str(tmp_path), 0, progress=False)
    with pytest.raises(DataError, match="unknown effect"):
        render_dataset(str(tmp_path), 5, options=RenderOptions(disabled=("sparkles",)), progress=False)
    with pytest.raises(DataError, match="leaves no training font"):
        render_dataset(str(tmp_path), 5, fonts=find_fonts()[:2], holdout_fonts=2, progress=False)
    with pytest.raises(DataError, match="font file or folder not found"):
        render_dataset(str(tmp_path), 5, fonts=[str(tmp_path / "nope.ttf")], progress=False)
    with pytest.raises(DataError, match="cannot draw a word"):
        render_dataset(str(tmp_path), 5, words=["!!!"], options=RenderOptions(digit_share=0.0), progress=False)

"""The reading path of kerasseq.ocr.predictor: pre-processor -> model -> post-processor, once
through, in the input's order."""

import numpy as np
import pytest

from kerasseq.ocr import images as images_module
from kerasseq.ocr import predictor as predictor_module
from kerasseq.ocr.images import read_gray
from kerasseq.ocr.predictor import Predictor, load_recognizer


def word_files(tiny_words):
    return sorted(str(tiny_words / line.split("\t")[0]) for line in (tiny_words / "labels.tsv").read_text().splitlines())


@pytest.mark.parametrize("batch_size", [2, 3, 64])
def test_files_read_as_their_arrays_do_in_order_around_bad_files(tiny_model, tiny_words, tmp_path, batch_size):
    good = word_files(tiny_words)[:7]
    (tmp_path / "empty.png").write_bytes(b"")
    paths = [good[0], str(tmp_path / "empty.png"), *good[1:4], str(tmp_path / "missing.png"), *good[4:]]
    predictor = Predictor(load_recognizer(tiny_model[0]), batch_size=batch_size)
    results = predictor.read_files(paths, keep_canvases=3)
    assert [r.path for r in results] == paths
    assert [bool(r.error) for r in results] == [False, True, False, False, False, True, False, False, False]
    expected = predictor.read_images([read_gray(p) for p in good])
    read = [r for r in results if not r.error]
    assert [r.text for r in read] == [e.text for e in expected]
    np.testing.assert_allclose([r.confidence for r in read], [e.confidence for e in expected], rtol=1e-5)
    kept = [r.canvas for r in read if r.canvas is not None]
    assert len(kept) == 3
    np.testing.assert_array_equal(kept[0], predictor.preprocessor.from_arrays([read_gray(good[0])])[0, :, :, 0])


def test_each_file_is_decoded_and_made_gray_once(tiny_model, tiny_words, monkeypatch):
    paths = word_files(tiny_words)[:5]
    predictor = Predictor(load_recognizer(tiny_model[0]), batch_size=2)
    decoded, converted = [], []
    monkeypatch.setattr(predictor_module, "read_gray", lambda path: decoded.append(path) or read_gray(path))
    convert = images_module.to_gray_uint8
    monkeypatch.setattr(images_module, "to_gray_uint8", lambda image: converted.append(image.shape) or convert(image))
    results = predictor.read_files(paths)
    assert decoded == paths and not any(r.error for r in results)
    assert len(converted) == len(paths)  # in decoding; fitting the canvas takes the gray image as it is


def test_an_array_in_colour_is_made_gray_before_it_is_fitted(tiny_model):
    predictor = Predictor(load_recognizer(tiny_model[0]))
    gray = np.full((20, 60), 200, np.uint8)
    gray[5:15, 10:50] = 30
    colour = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(predictor.preprocessor.from_arrays([colour]), predictor.preprocessor.from_arrays([gray]))

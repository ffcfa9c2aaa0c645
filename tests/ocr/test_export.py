"""Saving a training run's recogniser to ship: float32 compute, same weights, no optimizer,
its font record beside it."""

import numpy as np
import pytest

from kerasseq.data.font_record import read_font_record, write_font_record
from kerasseq.errors import ModelError
from kerasseq.ocr.export import save_for_reading
from kerasseq.ocr.inference import predict_probabilities
from kerasseq.ocr.predictor import load_recognizer
from kerasseq.ocr.recognizer import build_crnn
from kerasseq.training.trainer import compile_recognizer


def test_a_bfloat16_run_ships_as_a_float32_reader_with_its_weights_and_font_record(tmp_path):
    trained = build_crnn("small", precision="mixed_bfloat16")
    compile_recognizer(trained)
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 128, 1), dtype=np.uint8)
    trained.optimizer.build(trained.trainable_variables)  # a run's file holds Adam's moments too
    run = str(tmp_path / "model.keras")
    trained.save(run)
    write_font_record(run, ["Train-Regular.ttf"], ["Held-Out.ttf"])

    shipped_path = tmp_path / "words.keras"
    save_for_reading(load_recognizer(run), run, shipped_path)
    shipped = load_recognizer(str(shipped_path))
    assert {layer.dtype_policy.name for layer in shipped.layers if layer.weights} == {"float32"}
    assert shipped.architecture == {**trained.architecture, "precision": "float32"}
    assert all(np.array_equal(a, b) for a, b in zip(shipped.get_weights(), trained.get_weights()))
    assert shipped_path.stat().st_size < 0.5 * (tmp_path / "model.keras").stat().st_size  # no optimizer state
    assert read_font_record(str(shipped_path)) == (["Train-Regular.ttf"], ["Held-Out.ttf"])
    # the same reading as the bfloat16 original, to bfloat16's precision
    assert np.abs(predict_probabilities(shipped, images) - predict_probabilities(trained, images)).max() < 0.05
    with pytest.raises(ModelError, match="a keras export is a .keras file"):
        save_for_reading(trained, run, tmp_path / "words.h5")

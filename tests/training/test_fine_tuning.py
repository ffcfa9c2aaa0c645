import os

import keras
import numpy as np
import pytest

from kerasseq.data.dataset import open_split
from kerasseq.data.font_record import dataset_fonts, read_font_record, write_font_record
from kerasseq.errors import DataError, ModelError
from kerasseq.ocr.predictor import load_recognizer
from kerasseq.ocr.recognizer import build_crnn
from kerasseq.training.trainer import TrainConfig, train_recognizer


def saved_reader(path, charset, preset="small", seed=5, record=None):
    """An untrained recogniser saved in ``path`` (weights drawn with ``seed``), with the font
    record ``record`` ((training, held out) names) beside it when given."""
    keras.utils.set_random_seed(seed)
    model = build_crnn(preset, charset=charset)
    model.save(str(path))
    if record:
        write_font_record(str(path), *record)
    return model


def kernel(model):
    return keras.ops.convert_to_numpy(model.get_layer("conv1").kernel)


def test_a_run_from_a_saved_reader_starts_from_its_weights_and_records_its_fonts_too(dataset, tmp_path):
    training, held_out = dataset_fonts(str(dataset))
    # the saved reader held out Unseen.ttf and one font the run trains on, which the run's record no longer holds out
    start = saved_reader(tmp_path / "start.keras", open_split(str(dataset), "train").charset,
                         record=(["Start.ttf"], ["Unseen.ttf", training[0]]))
    out = str(tmp_path / "run")
    # a learning rate too small to move the weights: the run's model keeps the saved reader's
    # (seed 5), not the run's own initial draw (seed 0), across the change of precision
    config = TrainConfig(preset="small", epochs=1, batch_size=16, learning_rate=1e-12, seed=0,
                         precision="mixed_bfloat16", init_from=str(tmp_path / "start.keras"))
    train_recognizer(str(dataset), out, config, verbose=0)
    tuned = load_recognizer(os.path.join(out, "model.keras"))
    np.testing.assert_allclose(kernel(tuned), kernel(start), atol=1e-6)
    assert read_font_record(os.path.join(out, "model.keras")) == (sorted(training + ["Start.ttf"]), sorted(held_out + ["Unseen.ttf"]))


def test_a_saved_reader_of_another_network_charset_or_font_split_is_refused(dataset, tmp_path):
    charset = open_split(str(dataset), "train").charset

    def run(start, name):
        config = TrainConfig(preset="small", epochs=1, batch_size=16, init_from=str(start))
        train_recognizer(str(dataset), str(tmp_path / name), config, verbose=0)

    saved_reader(tmp_path / "medium.keras", charset, preset="medium")
    with pytest.raises(DataError, match="another network than the run's crnn_small"):
        run(tmp_path / "medium.keras", "a")
    saved_reader(tmp_path / "digits.keras", "digits")
    with pytest.raises(DataError, match="fine-tuning needs the same characters"):
        run(tmp_path / "digits.keras", "b")
    val_font = dataset_fonts(str(dataset))[1][0]
    saved_reader(tmp_path / "seen.keras", charset, record=([val_font], []))
    with pytest.raises(DataError, match=f"1 validation font.*{val_font} first, trained the model"):
        run(tmp_path / "seen.keras", "c")
    (tmp_path / "junk.keras").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable .keras model"):
        run(tmp_path / "junk.keras", "d")

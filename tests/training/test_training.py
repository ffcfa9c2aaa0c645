import csv
import os

import keras
import numpy as np
import pytest

from data_prep.building import PreprocessConfig, build_dataset
from kerasseq.errors import DataError
from kerasseq.ocr.charset import Charset
from kerasseq.ocr.ctc_loss import CTCLoss, check_labels
from kerasseq.ocr.decoding import sequence_log_likelihoods
from kerasseq.ocr.predictor import load_recognizer
from kerasseq.training.trainer import TrainConfig, train_recognizer


def test_ctc_loss_is_the_mean_negative_log_likelihood():
    rng = np.random.default_rng(0)
    probabilities = rng.random((3, 31, 5)).astype(np.float32)
    probabilities /= probabilities.sum(-1, keepdims=True)
    labels = np.array([[1, 2, 0], [3, 3, 0], [4, 1, 2]], np.int32)
    loss = float(np.asarray(CTCLoss()(labels, probabilities)))
    assert np.isfinite(loss)
    assert loss == pytest.approx(-sequence_log_likelihoods(probabilities, labels).mean(), rel=1e-4)


def test_labels_ctc_cannot_learn_are_rejected_before_training():
    charset = Charset.from_spec("alnum")
    check_labels(charset.encode_padded(["a" * 16, "abc"]), 31)
    with pytest.raises(DataError, match="1 empty label"):
        check_labels(charset.encode_padded(["abc", ""]), 31)
    with pytest.raises(DataError, match="too long for 31 output steps, first at row 1 \\(needs 33\\)"):
        check_labels(charset.encode_padded(["ok", "a" * 17]), 31)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_a_few_epochs_lower_the_loss_and_write_the_run_folder(dataset, tmp_path, precision):
    out = str(tmp_path / "run")
    config = TrainConfig(preset="small", epochs=3, batch_size=16, seed=0, precision=precision)
    summary = train_recognizer(str(dataset), out, config, verbose=0)
    with open(os.path.join(out, "history.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(row["loss"]) for row in rows]
    assert len(rows) == 3 and losses[2] < losses[0] * 0.8
    assert {"val_loss", "val_word_accuracy", "val_cer", "learning_rate"} <= set(rows[0])
    assert 0.0 <= float(rows[-1]["val_cer"]) <= 1.5
    for name in ("model.keras", "training_curves.png", "summary.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    assert not os.path.exists(os.path.join(out, "backup"))
    assert summary["train_images"] + summary["val_images"] == 240
    model = load_recognizer(os.path.join(out, "model.keras"))
    assert model.get_layer("conv1").dtype_policy.name == precision and model.architecture["precision"] == precision
    assert keras.ops.convert_to_numpy(model(np.zeros((1, 32, 128, 1), "float32"))).dtype == np.float32  # for CTC


def test_the_tiny_set_is_overfitted_to_every_word(tiny_model):
    _, _, accuracy = tiny_model
    assert accuracy == 1.0


def test_resume_refusals(dataset, tmp_path):
    with pytest.raises(DataError, match="nothing to resume"):
        train_recognizer(str(dataset), str(tmp_path / "run"), TrainConfig(resume=True), verbose=0)
    os.makedirs(tmp_path / "run" / "backup")
    with pytest.raises(DataError, match="holds an unfinished run; pass --resume"):
        train_recognizer(str(dataset), str(tmp_path / "run"), TrainConfig(), verbose=0)


def test_batch_larger_than_the_data_and_an_empty_dataset_are_refused(dataset, tmp_path):
    with pytest.raises(DataError, match="batch size 1000 is larger than the"):
        train_recognizer(str(dataset), str(tmp_path / "a"), TrainConfig(batch_size=1000), verbose=0)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_bytes(b"")
    build_dataset(str(tmp_path / "junk"), str(tmp_path / "empty"), PreprocessConfig(workers=1), progress=False)
    with pytest.raises(DataError, match="training split .* is empty"):
        train_recognizer(str(tmp_path / "empty"), str(tmp_path / "b"), TrainConfig(), verbose=0)


def test_gradient_clipping_reaches_the_optimizer():
    from kerasseq.ocr.recognizer import build_crnn
    from kerasseq.training.trainer import compile_recognizer

    assert compile_recognizer(build_crnn("small"), clipnorm=5.0).optimizer.clipnorm == 5.0
    assert compile_recognizer(build_crnn("small")).optimizer.clipnorm is None


def test_learning_curves_plot_word_accuracy_against_cpu_hours(tmp_path):
    from kerasseq.training.learning_curves import plot_learning_curves

    for name, rows in {"a": [("0.5", "0.4"), ("1.0", "0.6")], "b": [("0.7", "NA"), ("1.4", "0.7")]}.items():
        (tmp_path / name).mkdir()
        lines = ["epoch,cpu_hours,loss,val_word_accuracy"] + [f"{i},{h},1.0,{a}" for i, (h, a) in enumerate(rows)]
        (tmp_path / name / "history.csv").write_text("\n".join(lines) + "\n")
    curves = plot_learning_curves([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "curves.png"))
    assert curves == {"a": [(0.5, 0.4), (1.0, 0.6)], "b": [(1.4, 0.7)]}  # the epoch without accuracy is left out
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_the_history_logs_the_cpu_hours_spent_so_far_each_epoch(dataset, tmp_path):
    out = str(tmp_path / "run")
    train_recognizer(str(dataset), out, TrainConfig(epochs=2, batch_size=16, max_minutes=0.0), verbose=0)
    with open(os.path.join(out, "history.csv"), newline="") as handle:
        hours = [float(row["cpu_hours"]) for row in csv.DictReader(handle)]
    assert len(hours) == 2 and 0 < hours[0] < hours[1] < 0.1


def test_a_machine_without_system_fonts_renders_preprocesses_and_trains_a_model_that_records_its_fonts(monkeypatch, tmp_path):
    from data_prep import rendering
    from data_prep.rendering import PILLOW_FONT, bundled_fonts_folder, render_dataset

    monkeypatch.setattr(rendering, "FONT_FOLDERS", (str(tmp_path / "no-fonts"),))  # as if no font package were installed
    rendered = render_dataset(str(tmp_path / "words"), 200, seed=3, workers=1, holdout_fonts=2, val_share=0.2, progress=False)
    fonts = {row[2] for row in rendered}
    assert fonts <= set(os.listdir(bundled_fonts_folder())) | {PILLOW_FONT} and len(fonts) > 4
    build_dataset(str(tmp_path / "words"), str(tmp_path / "data"), PreprocessConfig(workers=1, shard_size=64), progress=False)
    out = str(tmp_path / "run")
    train_recognizer(str(tmp_path / "data"), out, TrainConfig(epochs=1, batch_size=16), verbose=0)
    with open(os.path.join(out, "history.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and np.isfinite(float(rows[0]["loss"])) and os.path.exists(os.path.join(out, "model.keras"))
    # the fonts of the rendered rows, per split, travel through the dataset's manifest to the model's record
    from kerasseq.data.font_record import read_font_record

    by_split = {split: sorted({row[2] for row in rendered if row[3] == split}) for split in ("train", "val")}
    assert len(by_split["val"]) == 2 and not set(by_split["train"]) & set(by_split["val"])
    assert read_font_record(os.path.join(out, "model.keras")) == (by_split["train"], by_split["val"])

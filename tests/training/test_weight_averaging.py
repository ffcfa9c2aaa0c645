import os

import keras
import numpy as np
import pytest

from kerasseq.data.font_record import read_font_record
from kerasseq.errors import DataError
from kerasseq.ocr.predictor import load_recognizer
from kerasseq.ocr.recognizer import build_crnn
from kerasseq.training.trainer import TrainConfig, train_recognizer
from kerasseq.training.weight_averaging import average_recognizers, recalibrate_batchnorm
from tests.helpers import call


def weights(model):
    return [np.asarray(w) for w in model.get_weights()]


@pytest.fixture(scope="module")
def kept_run(dataset, tmp_path_factory):
    """A mixed-bfloat16 run of the small preset with --keep-epochs, 2 epochs of 64 images: its folder."""
    out = tmp_path_factory.mktemp("kept") / "run"
    config = TrainConfig(preset="small", epochs=2, batch_size=16, epoch_images=64, seed=0, keep_epochs=True,
                         precision="mixed_bfloat16")
    train_recognizer(str(dataset), str(out), config, verbose=0)
    return out


def test_a_run_keeps_every_epoch_and_their_average_is_the_mean_of_each_weight(kept_run):
    out = kept_run
    kept = sorted(os.listdir(out / "epochs"))
    assert kept == ["epoch-0001.keras", "epoch-0002.keras"]
    first, second = (weights(load_recognizer(str(out / "epochs" / name))) for name in kept)
    assert not np.allclose(first[0], second[0])  # training moved the weights between the two epochs
    averaged = weights(average_recognizers([str(out / "epochs" / name) for name in kept]))
    for a, b, mean in zip(first, second, averaged):
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-6, atol=1e-7)


def test_models_of_different_networks_do_not_average(tmp_path):
    build_crnn("small").save(str(tmp_path / "small.keras"))
    build_crnn("small", charset="digits").save(str(tmp_path / "digits.keras"))
    with pytest.raises(DataError, match="another network or charset"):
        average_recognizers([str(tmp_path / "small.keras"), str(tmp_path / "digits.keras")])
    with pytest.raises(DataError, match="no models"):
        average_recognizers([])


def test_recalibrated_statistics_are_the_mean_and_variance_of_each_batch_norm_input():
    keras.utils.set_random_seed(1)
    model = build_crnn("small", dropout=0.0)
    images = np.random.default_rng(0).random((24, 32, 128, 1), dtype=np.float32)
    # over two batches of different sizes, the first batch norm's statistics are those of all
    # 24 images' conv1 outputs (its input does not depend on any batch norm)
    assert recalibrate_batchnorm(model, [images[:16], images[16:]]) == 24
    conv1 = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer("conv1").output)(images))
    conv1 = conv1.reshape(-1, conv1.shape[-1]).astype(np.float64)
    batchnorm1 = model.get_layer("batchnorm1")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(batchnorm1.moving_mean), conv1.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(batchnorm1.moving_variance), conv1.var(axis=0), rtol=1e-4, atol=1e-6)
    # measured on one batch, every layer's statistics are that batch's: the network then
    # computes the same in inference mode as in training mode (to 5e-3 on features up to about
    # 5: PyTorch's batch-norm route of kerasseq.accel computes training mode in its own kernel)
    recalibrate_batchnorm(model, [(images[:16], None)])
    features = keras.Model(model.input, model.get_layer("squeeze_height").output)
    inference, training = (keras.ops.convert_to_numpy(features(images[:16], training=mode)) for mode in (False, True))
    np.testing.assert_allclose(inference, training, rtol=0, atol=5e-3)


def test_the_script_averages_a_runs_last_epochs_into_a_float32_reader_with_its_font_record(kept_run, dataset, tmp_path, capsys):
    run_folder = kept_run
    out = tmp_path / "averaged.keras"
    code, _, err = call("average_weights", ["--run", run_folder, "--last", 3, "--data", dataset, "--out", out], capsys)
    assert code == 2 and err == f"error: {run_folder} keeps 2 epoch(s) in epochs/, --last asks for 3 (train with --keep-epochs)\n"
    code, printed, _ = call("average_weights", ["--run", run_folder, "--last", 2, "--data", dataset, "--batches", 3,
                                                "--batch-size", 16, "--out", out], capsys)
    assert code == 0 and "the mean of 2 epochs, batch-norm statistics over 48 training images" in printed
    reader = load_recognizer(str(out))
    assert reader.architecture["precision"] == "float32"
    assert read_font_record(str(out)) == read_font_record(str(run_folder / "model.keras"))
    # the convolution weights are the two epochs' mean; the batch-norm statistics were measured again
    epochs = [load_recognizer(str(run_folder / "epochs" / f"epoch-000{n}.keras")) for n in (1, 2)]
    kernels = [keras.ops.convert_to_numpy(m.get_layer("conv3").kernel) for m in epochs + [reader]]
    np.testing.assert_allclose(kernels[2], (kernels[0] + kernels[1]) / 2, rtol=1e-6, atol=1e-7)
    means = [keras.ops.convert_to_numpy(m.get_layer("batchnorm3").moving_mean) for m in epochs + [reader]]
    assert not np.allclose(means[2], (means[0] + means[1]) / 2)

"""Data-parallel training (``--distribute``) on a CPU split into two virtual devices.

The split must happen before the backend starts, so each check runs in a fresh
interpreter: XLA_FLAGS for JAX, logical CPU devices for TensorFlow.
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.helpers import ROOT

BACKEND = keras.backend.backend()
needs_parallel_backend = pytest.mark.skipif(BACKEND == "torch", reason="Keras 3 has no data-parallel fit on PyTorch")

TWO_CPU_DEVICES = """
import os, sys, json
if os.environ["KERAS_BACKEND"] == "jax":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
else:
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
from kerasseq.training.distribute import data_parallel, single_device
"""

SAME_STEPS = TWO_CPU_DEVICES + """
from kerasseq.ocr.recognizer import build_crnn
from kerasseq.ocr.ctc_loss import CTCLoss

rng = np.random.default_rng(0)
# rows of very different brightness: per-device batch statistics would differ from the
# global batch's, so only a truly data-parallel step (synchronised where needed) matches
images = rng.random((8, 32, 128, 1), dtype=np.float32) * np.linspace(0.1, 1.0, 8, dtype=np.float32)[:, None, None, None]
labels = rng.integers(1, 63, size=(8, 5)).astype(np.int32)

def one_step(parallel):
    with parallel.scope():
        keras.utils.set_random_seed(0)
        # conv4 at 128 -> 256 filters: on JAX it runs as Winograd products, sharded too
        model = build_crnn("small", dropout=0.0, filters=[16, 32, 128, 256, 64, 64, 64],
                           synchronized_batchnorm=parallel.synchronized_batchnorm)
        # plain SGD: the update is the summed gradient itself; Adam divides each gradient
        # by its own running scale, which turns rounding noise in near-zero gradients
        # into whole steps of the learning rate
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=CTCLoss())
        before = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        # one global batch of 8 per epoch: the first epoch's loss is the first step's
        history = model.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
        after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        outputs = model.predict(images, batch_size=8, verbose=0)
        loss_after = float(model.evaluate(images, labels, batch_size=8, verbose=0))
    update = np.concatenate([(b - a).ravel() for a, b in zip(before, after)])
    return history.history["loss"][0], loss_after, update, keras.ops.convert_to_numpy(outputs)

single_loss, single_after, single_update, single_outputs = one_step(single_device())
parallel = data_parallel()
loss, after, update, outputs = one_step(parallel)
print(json.dumps({"replicas": parallel.replicas, "single_loss": single_loss, "loss": loss, "loss_after": after,
                  "update_norm": float(np.linalg.norm(single_update)),
                  "update_difference": float(np.linalg.norm(update - single_update) / np.linalg.norm(single_update)),
                  "output_difference": float(np.abs(single_outputs - outputs).max())}))
"""

TRAIN = TWO_CPU_DEVICES + """
from kerasseq.training.trainer import TrainConfig, train_recognizer

summary = train_recognizer(sys.argv[1], sys.argv[2], TrainConfig(epochs=1, batch_size=16, distribute=True), verbose=0)
print(json.dumps(summary))
"""


def run_on_two_devices(code, *args):
    """Run ``code`` in a fresh interpreter on two virtual CPU devices -> its JSON output."""
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


#: float32 unit roundoff, and the longest sum whose order the split over two devices
#: changes: batch-norm statistics over 8 images x 32 x 128 positions of the first layer
#: (the gradient sums over the batch are shorter). Summing n terms in another order moves
#: the result by at most n * u of the summed magnitudes (Higham, Accuracy and Stability
#: of Numerical Algorithms, 2nd ed., eq. 4.4); an unsynchronised batch norm, or a step on
#: half the batch, is off by a percent or more.
FLOAT32_ROUNDOFF = 2.0 ** -24
SPLIT_SUM_BOUND = 8 * 32 * 128 * FLOAT32_ROUNDOFF  # 2e-3


@pytest.mark.slow
@needs_parallel_backend
def test_a_distributed_step_matches_a_single_device_step_on_the_same_global_batch():
    result = run_on_two_devices(SAME_STEPS)
    assert result["replicas"] == 2
    # the loss checks the forward pass (batch statistics over the global batch), the
    # update the gradients summed over both devices
    assert result["loss"] == pytest.approx(result["single_loss"], rel=SPLIT_SUM_BOUND)
    assert result["update_norm"] > 0.01 and result["update_difference"] < SPLIT_SUM_BOUND
    assert result["loss_after"] < 0.98 * result["loss"]  # the step goes downhill
    assert result["output_difference"] < SPLIT_SUM_BOUND


@pytest.mark.slow
@needs_parallel_backend
def test_training_with_distribute_runs_over_two_devices_with_an_odd_validation_split(rendered, tmp_path):
    from data_prep.building import PreprocessConfig, build_dataset
    from kerasseq.data.dataset import open_split
    from kerasseq.ocr.predictor import load_recognizer

    dataset = tmp_path / "dataset"
    build_dataset(str(rendered[0]), str(dataset), PreprocessConfig(split="every", val_every=10, limit=230, workers=1),
                  progress=False)
    assert len(open_split(str(dataset), "val")) == 23  # its last batch cannot split over two devices as it is
    summary = run_on_two_devices(TRAIN, dataset, tmp_path / "run")
    assert summary["finished"] and summary["epochs_run"] == 1
    assert np.isfinite(summary["val_loss"]) and 0.0 <= summary["val_cer"]
    assert load_recognizer(summary["model"]).count_params() > 0


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch only")
def test_distribute_is_refused_on_pytorch_with_a_reason():
    from kerasseq.errors import DataError
    from kerasseq.training.distribute import data_parallel

    with pytest.raises(DataError, match="JAX or TensorFlow"):
        data_parallel()

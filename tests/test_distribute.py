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

from conftest import ROOT

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
from kerasseq.distribute import data_parallel, single_device
"""

SAME_STEPS = TWO_CPU_DEVICES + """
from kerasseq.models import build_crnn
from kerasseq.training import compile_recognizer

rng = np.random.default_rng(0)
# rows of very different brightness: per-device batch statistics would differ from the
# global batch's, so only a truly data-parallel step (synchronised where needed) matches
images = rng.random((8, 32, 128, 1), dtype=np.float32) * np.linspace(0.1, 1.0, 8, dtype=np.float32)[:, None, None, None]
labels = rng.integers(1, 63, size=(8, 5)).astype(np.int32)

def three_steps(parallel):
    with parallel.scope():
        keras.utils.set_random_seed(0)
        # conv4 at 128 -> 256 filters: on JAX it runs as Winograd products, sharded too
        model = build_crnn("small", dropout=0.0, filters=[16, 32, 128, 256, 64, 64, 64],
                           synchronized_batchnorm=parallel.synchronized_batchnorm)
        compile_recognizer(model, 1e-3)
        # one global batch of 8 per epoch: each epoch's loss is one step's loss
        history = model.fit(images, labels, batch_size=8, epochs=3, shuffle=False, verbose=0)
        outputs = model.predict(images, batch_size=8, verbose=0)
    return history.history["loss"], keras.ops.convert_to_numpy(outputs)

single, single_outputs = three_steps(single_device())
parallel = data_parallel()
distributed, distributed_outputs = three_steps(parallel)
print(json.dumps({"replicas": parallel.replicas, "single": single, "distributed": distributed,
                  "output_difference": float(np.abs(single_outputs - distributed_outputs).max())}))
"""

TRAIN = TWO_CPU_DEVICES + """
from kerasseq.training import TrainConfig, train_recognizer

summary = train_recognizer(sys.argv[1], sys.argv[2], TrainConfig(epochs=1, batch_size=16, distribute=True), verbose=0)
print(json.dumps(summary))
"""


def run_on_two_devices(code, *args):
    """Run ``code`` in a fresh interpreter on two virtual CPU devices -> its JSON output."""
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@needs_parallel_backend
def test_a_distributed_step_matches_a_single_device_step_on_the_same_global_batch():
    result = run_on_two_devices(SAME_STEPS)
    assert result["replicas"] == 2
    # the first loss checks the forward pass, the next two the summed gradients
    assert result["distributed"] == pytest.approx(result["single"], rel=1e-4)
    assert result["distributed"][2] < 0.9 * result["distributed"][0]
    assert result["output_difference"] < 1e-4


@needs_parallel_backend
def test_training_with_distribute_runs_over_two_devices_with_an_odd_validation_split(rendered, tmp_path):
    from data_prep.building import PreprocessConfig, build_dataset
    from kerasseq.dataset import open_split
    from kerasseq.predictor import load_recognizer

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
    from kerasseq.distribute import data_parallel
    from kerasseq.errors import DataError

    with pytest.raises(DataError, match="JAX or TensorFlow"):
        data_parallel()

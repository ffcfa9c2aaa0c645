"""Data-parallel training over every local device (``train_crnn.py --distribute``).

Each backend's own mechanism, nothing home-made:

- JAX: Keras's ``keras.distribution.DataParallel`` over ``keras.distribution.list_devices()``:
  one SPMD program, the global batch split along its first axis, gradients reduced by
  XLA. Multi-host: set ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the coordinator's
  ``host:port``), ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``
  on every host; :func:`data_parallel` then calls ``keras.distribution.initialize()``
  (``jax.distributed.initialize`` underneath) before anything runs.
- TensorFlow: ``tf.distribute.MirroredStrategy`` over the local GPUs, else the local
  CPU devices; with ``TF_CONFIG`` set (the standard cluster description),
  ``tf.distribute.MultiWorkerMirroredStrategy``. Batch normalisation then uses the
  statistics of the global batch, as a single device would.
- PyTorch: Keras 3's ``fit`` has no data-parallel mode on PyTorch; refused with a message.
"""

import contextlib
import dataclasses
import os

import keras

from kerasseq.errors import DataError

JAX_CLUSTER_VARIABLE = "KERAS_DISTRIBUTION_JOB_ADDRESSES"


@dataclasses.dataclass
class DataParallel:
    """How to run data-parallel: enter ``scope()`` around building, compiling and
    fitting the model; ``replicas`` devices share each global batch."""

    scope: object
    replicas: int
    synchronized_batchnorm: bool


def _jax():
    if os.environ.get(JAX_CLUSTER_VARIABLE):
        keras.distribution.initialize()
    distribution = keras.distribution.DataParallel()
    return DataParallel(distribution.scope, len(keras.distribution.list_devices()), False)


def _tensorflow():
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy([device.name for device in devices])
    return DataParallel(strategy.scope, strategy.num_replicas_in_sync, True)


def data_parallel():
    """The data-parallel set-up of the current backend; DataError on PyTorch."""
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax()
    if backend == "tensorflow":
        return _tensorflow()
    raise DataError(f"--distribute needs the JAX or TensorFlow backend: Keras 3 has no data-parallel fit on {backend}")


def devices_sharing_batches():
    """How many devices the active Keras distribution (JAX ``DataParallel``) splits each
    batch over; 1 without one. Such a batch must split evenly."""
    distribution = keras.distribution.distribution()
    return int(distribution.device_mesh.devices.size) if distribution is not None else 1


def single_device():
    """The no-op counterpart of :func:`data_parallel`."""
    return DataParallel(contextlib.nullcontext, 1, False)

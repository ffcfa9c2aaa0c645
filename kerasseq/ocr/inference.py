"""Running a recogniser on uint8 canvases: the one reading path behind prediction,
evaluation, the per-epoch metrics and the benchmark.

On JAX (without a data-parallel distribution) each batch goes to the device as uint8, a
quarter of float32's bytes, and one jitted function scales it to [0, 1] and runs the
network there with the model's current weights; a batch is dispatched before the
previous one's output is copied back, so the copies overlap the compute. Elsewhere each
batch is scaled on the host and run by Keras's ``predict_on_batch``.
"""

import keras
import numpy as np

from kerasseq.ocr.images import PIXEL_SCALE, normalise
from kerasseq.training.distribute import devices_sharing_batches


def batch_forward(model):
    """The function that runs ``model`` on one batch: uint8 canvases (b, 32, 128, 1) ->
    (b, T, C) float32 probabilities, as a NumPy array or, on JAX, a device array whose
    computation may still be running."""
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is not None:
        return lambda canvases: model.predict_on_batch(normalise(canvases))
    if getattr(model, "_jitted_forward", None) is None:  # compiled once per model and batch shape
        import jax

        def forward(trainable, non_trainable, canvases):
            images = keras.ops.cast(canvases, "float32") * PIXEL_SCALE
            return model.stateless_call(trainable, non_trainable, images, training=False)[0]

        model._jitted_forward = jax.jit(forward)
    jitted = model._jitted_forward

    def run(canvases):
        trainable = [variable.value for variable in model.trainable_variables]
        non_trainable = [variable.value for variable in model.non_trainable_variables]
        return jitted(trainable, non_trainable, canvases)

    return run


def predict_probabilities(model, images, batch_size=256):
    """Run ``model`` on uint8 canvases (n, 32, 128, 1) -> (n, T, C) float32 probabilities.

    Batches have one fixed size, the last one padded: ``batch_size``, or for fewer
    images the power of two that holds them, so JAX and TensorFlow compile a few shapes
    once (a reader's last, partial batch of a folder reuses the full batch's) instead of
    one per image count. The size splits evenly over the devices of an active
    data-parallel distribution.
    """
    devices = devices_sharing_batches()
    holds_all = 1 << (max(1, len(images)) - 1).bit_length()
    batch_size = -(-min(batch_size, holds_all) // devices) * devices
    forward = batch_forward(model)
    running, outputs = [], []  # (output, image count) of batches not yet copied back
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        count = len(batch)
        if count < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - count,) + batch.shape[1:], batch.dtype)])
        running.append((forward(batch), count))
        if len(running) == 2:  # copy the previous batch back while this one computes
            outputs.append(_to_host(*running.pop(0)))
    outputs += [_to_host(*item) for item in running]
    probabilities = outputs[0] if len(outputs) == 1 else np.concatenate(outputs)
    return probabilities.astype(np.float32, copy=False)


def _to_host(output, count):
    """The first ``count`` rows of a batch's output as a NumPy array."""
    return keras.ops.convert_to_numpy(output)[:count]

"""Exporting the inference model for serving, and checking the export reads the same."""

import numpy as np

from kerasseq.errors import ModelError

FORMATS = ("tf_saved_model", "onnx")


def export_recognizer(model, path, export_format="tf_saved_model"):
    """Write ``model``'s inference function to ``path`` with Keras's ``model.export``.

    ``tf_saved_model`` works on the TensorFlow and JAX backends (and needs TensorFlow);
    ``onnx`` needs the ``onnx`` package (and ``tf2onnx`` on TensorFlow/JAX).
    Input: images (batch, 32, 128, 1) float32 in [0, 1]; output: (batch, T, C) probabilities.
    """
    if export_format not in FORMATS:
        raise ModelError(f"unknown export format {export_format!r}; use one of {', '.join(FORMATS)}")
    try:
        model.export(path, format=export_format, verbose=False)
    except (ImportError, NotImplementedError, ValueError) as error:
        raise ModelError(f"cannot export to {export_format} on this backend: {str(error).splitlines()[0][:200]}") from None
    return path


def run_saved_model(path, images):
    """Run an exported TF SavedModel's ``serve`` on images (batch, 32, 128, 1) float32."""
    import tensorflow as tf

    served = tf.saved_model.load(path)
    return np.asarray(served.serve(tf.constant(images, dtype=tf.float32)))

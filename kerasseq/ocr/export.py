"""Exporting the inference model for serving, and checking the export reads the same."""

import numpy as np

from kerasseq.errors import ModelError

FORMATS = ("tf_saved_model", "onnx")


def export_recognizer(model, path, export_format="tf_saved_model"):
    """Write ``model``'s inference function to ``path`` with Keras's ``model.export``.

    ``tf_saved_model`` works on the TensorFlow and JAX backends (and needs TensorFlow);
    ``onnx`` works on the PyTorch backend with ``onnx``, ``onnxscript`` and
    ``onnxruntime`` installed (tested); TensorFlow/JAX would also need ``tf2onnx``.
    Input: images (batch, 32, 128, 1) float32 in [0, 1]; output: (batch, T, C) probabilities.
    """
    if export_format not in FORMATS:
        raise ModelError(f"unknown export format {export_format!r}; use one of {', '.join(FORMATS)}")
    model(np.zeros((1,) + tuple(model.input_shape[1:]), dtype=np.float32))  # exporters trace a called model
    try:
        model.export(path, format=export_format, verbose=False)
    except (ImportError, NotImplementedError, ValueError) as error:
        raise ModelError(f"cannot export to {export_format} on this backend: {str(error).splitlines()[0][:200]}") from None
    return path


def run_exported(path, images, export_format="tf_saved_model"):
    """Run an exported recogniser on images (batch, 32, 128, 1) float32 -> (batch, T, C):
    a TF SavedModel's ``serve`` endpoint, or an ONNX file through onnxruntime."""
    images = np.asarray(images, dtype=np.float32)
    if export_format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path)
        return session.run(None, {session.get_inputs()[0].name: images})[0]
    import tensorflow as tf

    served = tf.saved_model.load(path)  # keep a reference: its variables die with it
    return np.asarray(served.serve(tf.constant(images)))

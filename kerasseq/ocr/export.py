"""Exporting the inference model for serving, and checking the export reads the same."""

import numpy as np

from kerasseq.data.font_record import read_font_record, write_font_record
from kerasseq.errors import ModelError
from kerasseq.ocr.recognizer import Recognizer

FORMATS = ("tf_saved_model", "onnx")


def inference_copy(model, precision="float32"):
    """A new :class:`Recognizer` with ``model``'s architecture and weights that computes in
    ``precision`` (a model trained in ``mixed_bfloat16`` reads in float32 on any CPU), and
    carries no optimizer: what a training run's ``model.keras`` becomes when it is shipped."""
    architecture = {**model.architecture, "precision": precision}
    copy = Recognizer(model.charset.characters, architecture, model.preprocess_mode, name=model.name)
    copy.set_weights(model.get_weights())
    return copy


def save_for_reading(model, model_path, path, precision="float32"):
    """Write :func:`inference_copy` of ``model``, loaded from the ``.keras`` file
    ``model_path``, to ``path`` (a ``.keras`` file), with the font record of
    ``model_path`` written beside it when it has one. Returns the copy."""
    if not str(path).endswith(".keras"):
        raise ModelError(f"a keras export is a .keras file, got {path}")
    copy = inference_copy(model, precision)
    copy.save(path)
    record = read_font_record(model_path)
    if record:
        write_font_record(str(path), *record)
    return copy


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

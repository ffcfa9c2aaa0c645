"""Reading words from image files: preprocessor -> model -> postprocessor.

The same three pieces serve prediction, evaluation and the demo, so no script
re-implements resizing, batching or decoding.
"""

import dataclasses
import os
from importlib import resources

import keras
import numpy as np
from tqdm import tqdm

from kerasseq.errors import DataError, KerasseqError, ModelError
from kerasseq.ocr.decoding import decode
from kerasseq.ocr.images import CANVAS_HEIGHT, CANVAS_WIDTH, fit_to_canvas, read_gray
from kerasseq.ocr.inference import batch_forward, predict_probabilities
from kerasseq.ocr.recognizer import Recognizer

#: File name of the English word recogniser shipped in ``kerasseq/resources``.
PRETRAINED_MODEL = "words_alnum.keras"


def pretrained_model_path():
    """Path of the shipped word recogniser (letters and digits, case-sensitive);
    ModelError if this copy of kerasseq has none."""
    path = str(resources.files("kerasseq.resources").joinpath(PRETRAINED_MODEL))
    if not os.path.isfile(path):
        raise ModelError(f"no shipped model in this copy of kerasseq ({PRETRAINED_MODEL}); pass --model")
    return path


def load_recognizer(path=None):
    """A :class:`Recognizer` from a ``.keras`` file (None: the shipped word recogniser);
    ModelError if it is missing, not a Keras file, or a Keras model that is not a
    kerasseq recogniser."""
    path = pretrained_model_path() if path is None else path
    if not os.path.isfile(path):
        raise ModelError(f"model file not found: {path}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a file that is not a model
        raise ModelError(f"{path} is not a readable .keras model ({type(error).__name__}: {str(error)[:120]})") from None
    if not isinstance(model, Recognizer):
        raise ModelError(f"{path} is a Keras model but not a kerasseq recogniser (train one with scripts/train_crnn.py)")
    return model


def collect_files(inputs):
    """Paths given -> every file they name or hold (folders walked, sorted). Non-image
    files stay in, so each gets a result or a reason; a missing path raises DataError."""
    files = []
    for path in inputs:
        if os.path.isdir(path):
            for directory, subdirectories, names in os.walk(path):
                subdirectories.sort()
                files.extend(os.path.join(directory, name) for name in sorted(names))
        elif os.path.exists(path):
            files.append(path)
        else:
            raise DataError(f"no such file or folder: {path}")
    if not files:
        raise DataError(f"no files found in {', '.join(inputs)}")
    return files


@dataclasses.dataclass
class Prediction:
    """What the model read in one file, or why it could not (``error`` non-empty);
    ``canvas``: the (32, 128) uint8 canvas it read, where the caller asked to keep it."""

    path: str
    text: str = ""
    confidence: float = 0.0
    error: str = ""
    canvas: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    def as_dict(self):
        """The reading as plain data: path, text, confidence, error."""
        return {"path": self.path, "text": self.text, "confidence": self.confidence, "error": self.error}


class PreProcessor:
    """Image files or arrays -> (32, 128) uint8 canvases in one preprocessing mode."""

    def __init__(self, mode="resize"):
        self.mode = mode

    def from_file(self, path):
        """Image file -> (32, 128) uint8 canvas; DataError naming what is wrong."""
        return fit_to_canvas(read_gray(path), self.mode)

    def from_arrays(self, images):
        """Image arrays of any size, depth or channels -> (n, 32, 128, 1) uint8 canvases."""
        canvases = np.empty((len(images), CANVAS_HEIGHT, CANVAS_WIDTH, 1), dtype=np.uint8)
        for row, image in enumerate(images):
            canvases[row, :, :, 0] = fit_to_canvas(image, self.mode)
        return canvases


class PostProcessor:
    """(n, T, C) probabilities -> n :class:`~kerasseq.ocr.decoding.Reading` with one decoder."""

    def __init__(self, charset, decoder="greedy", beam_width=10, lexicon=None):
        self.charset = charset
        self.decoder = decoder
        self.beam_width = beam_width
        self.lexicon = lexicon

    def __call__(self, probabilities):
        return decode(probabilities, self.charset, self.decoder, self.beam_width, self.lexicon)


class Predictor:
    """A recogniser's reading path: :class:`PreProcessor` -> the model ->
    :class:`PostProcessor`, in batches of ``batch_size`` canvases."""

    def __init__(self, model, decoder="greedy", beam_width=10, lexicon=None, batch_size=64):
        self.model = model
        self.batch_size = batch_size
        self.preprocessor = PreProcessor(model.preprocess_mode)
        self.postprocessor = PostProcessor(model.charset, decoder, beam_width, lexicon)

    def read_canvases(self, canvases):
        """(n, 32, 128, 1) uint8 canvases -> n Readings (text, confidence)."""
        return self.postprocessor(predict_probabilities(self.model, canvases, self.batch_size))

    def read_images(self, images):
        """Image arrays of any size (grayscale, BGR or BGRA; any dtype) -> n Readings."""
        return self.read_canvases(self.preprocessor.from_arrays(images))

    def read_files(self, paths, progress=False, keep_canvases=0):
        """Image files -> one :class:`Prediction` per path, in order; a file that cannot
        be read gets its reason in ``error`` and the others are still read.

        One pass: each file is decoded and fitted once, straight into a batch of
        ``batch_size`` canvases (fewer files: the power of two that holds them; the last
        batch keeps stale rows rather than taking a new shape). Two batch buffers alternate, so on JAX the next batch's files are read
        while the model still runs on the previous one. The first ``keep_canvases``
        readable files keep their canvas on their Prediction (e.g. for a contact sheet)."""
        forward = batch_forward(self.model)
        size = min(self.batch_size, 1 << (max(1, len(paths)) - 1).bit_length())
        buffers = [np.zeros((size, CANVAS_HEIGHT, CANVAS_WIDTH, 1), np.uint8) for _ in range(2)]
        results = [Prediction(path) for path in paths]
        running = None  # (output, rows of results) of the batch the model is running
        rows, kept = [], 0
        with tqdm(total=len(paths), unit="img", desc="predict", disable=not progress) as bar:
            for index, path in enumerate(paths):
                buffer = buffers[0]
                try:
                    buffer[len(rows), :, :, 0] = self.preprocessor.from_file(path)
                    rows.append(index)
                    if kept < keep_canvases:
                        results[index].canvas = buffer[len(rows) - 1, :, :, 0].copy()
                        kept += 1
                except KerasseqError as error:
                    results[index].error = str(error)
                except Exception as error:  # one broken file must not end the run
                    results[index].error = f"unexpected {type(error).__name__}: {error}"
                if len(rows) == size or (index == len(paths) - 1 and rows):
                    if running is not None:
                        self._finish(*running, results, bar)
                    running = (forward(buffer), rows)
                    buffers.reverse()
                    rows = []
            if running is not None:
                self._finish(*running, results, bar)
            bar.update(len(paths) - bar.n)
        return results

    def _finish(self, output, rows, results, bar):
        """Decode one batch's output into the Predictions at ``rows``."""
        readings = self.postprocessor(keras.ops.convert_to_numpy(output)[: len(rows)].astype(np.float32, copy=False))
        for index, reading in zip(rows, readings):
            results[index].text, results[index].confidence = reading.text, reading.confidence
        bar.update(rows[-1] + 1 - bar.n)

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

from kerasseq.decoding import decode
from kerasseq.errors import DataError, KerasseqError, ModelError
from kerasseq.images import CANVAS_HEIGHT, CANVAS_WIDTH, fit_to_canvas, load_canvas
from kerasseq.inference import predict_probabilities
from kerasseq.models import Recognizer


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
    """What the model read in one file, or why it could not (``error`` non-empty)."""

    path: str
    text: str = ""
    confidence: float = 0.0
    error: str = ""


class Predictor:
    """Chains the model's own preprocessing, the model, and a CTC decoder."""

    def __init__(self, model, decoder="greedy", beam_width=10, lexicon=None, batch_size=64):
        self.model = model
        self.decoder = decoder
        self.beam_width = beam_width
        self.lexicon = lexicon
        self.batch_size = batch_size

    def canvases(self, grays):
        """(H, W) uint8 images -> (n, 32, 128, 1) uint8 canvases in the model's mode."""
        stacked = np.empty((len(grays), CANVAS_HEIGHT, CANVAS_WIDTH, 1), dtype=np.uint8)
        for row, gray in enumerate(grays):
            stacked[row, :, :, 0] = fit_to_canvas(gray, self.model.preprocess_mode)
        return stacked

    def read_canvases(self, canvases):
        """(n, 32, 128, 1) uint8 canvases -> n Readings (text, confidence)."""
        probabilities = predict_probabilities(self.model, canvases, self.batch_size)
        return decode(probabilities, self.model.charset, self.decoder, self.beam_width, self.lexicon)

    def read_images(self, grays):
        """(H, W) uint8 grayscale images of any size -> n Readings."""
        return self.read_canvases(self.canvases(grays))

    def read_files(self, paths, progress=False):
        """Image files -> one :class:`Prediction` per path, in order; a file that cannot
        be read gets its reason in ``error`` and the others are still read."""
        results = []
        with tqdm(total=len(paths), unit="img", desc="predict", disable=not progress) as bar:
            for start in range(0, len(paths), self.batch_size):
                batch = paths[start : start + self.batch_size]
                good, canvases = [], []
                for path in batch:
                    try:
                        canvases.append(load_canvas(path, self.model.preprocess_mode))
                        good.append(path)
                    except KerasseqError as error:
                        results.append(Prediction(path, error=str(error)))
                    except Exception as error:  # one broken file must not end the run
                        results.append(Prediction(path, error=f"unexpected {type(error).__name__}: {error}"))
                if canvases:
                    readings = self.read_canvases(np.stack(canvases)[..., np.newaxis])
                    results.extend(Prediction(p, r.text, r.confidence) for p, r in zip(good, readings))
                bar.update(len(batch))
        order = {path: index for index, path in enumerate(paths)}
        return sorted(results, key=lambda p: order[p.path])

"""kerasseq: sequence learning with recurrent networks on Keras 3 (TensorFlow, JAX, PyTorch).

Importing ``kerasseq`` does not import Keras: the public names below load on first
use, so a script can still choose the backend after ``import kerasseq``. Once Keras is
imported (before or after kerasseq), kerasseq's saved classes are registered with it,
so ``keras.saving.load_model`` restores a kerasseq model file, as ``import keras_hub``
does for KerasHub's.

Examples:
    >>> import kerasseq
    >>> model = kerasseq.build_crnn("small")                 # (batch, 32, 128, 1) -> (batch, 31, 63)
    >>> reader = kerasseq.Predictor(kerasseq.load_recognizer())  # the shipped word reader
    >>> reader.read_files(["word.png"])[0].text
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

#: Public name -> the module that defines it, imported on first use.
_LAZY = {
    "Charset": "kerasseq.ocr.charset",
    "KerasseqError": "kerasseq.errors",
    "build_crnn": "kerasseq.ocr.recognizer",
    "Recognizer": "kerasseq.ocr.recognizer",
    "CTCLoss": "kerasseq.ocr.ctc_loss",
    "load_recognizer": "kerasseq.ocr.predictor",
    "Predictor": "kerasseq.ocr.predictor",
    "Prediction": "kerasseq.ocr.predictor",
    "greedy_decode": "kerasseq.ocr.decoding",
    "beam_search_decode": "kerasseq.ocr.decoding",
    "lexicon_decode": "kerasseq.ocr.decoding",
    "Lexicon": "kerasseq.ocr.decoding",
    "Reading": "kerasseq.ocr.decoding",
    "TrainConfig": "kerasseq.training.trainer",
    "train_recognizer": "kerasseq.training.trainer",
    "run_task": "kerasseq.tasks",
    "TASKS": "kerasseq.tasks",
}
#: Modules reachable as attributes without their own import: ``kerasseq.layers.NALU`` (the
#: arithmetic layers), ``kerasseq.tasks.TASKS``, ``kerasseq.ocr.predictor``.
_SUBMODULES = {
    "layers": "kerasseq.arithmetic.layers",
    "tasks": "kerasseq.tasks",
    "ocr": "kerasseq.ocr",
    "data": "kerasseq.data",
    "training": "kerasseq.training",
    "accel": "kerasseq.accel",
    "arithmetic": "kerasseq.arithmetic",
    "benchmarks": "kerasseq.benchmarks",
}
#: Modules whose import registers kerasseq's serializable classes with Keras.
_SERIALIZABLE_MODULES = ("kerasseq.arithmetic.layers", "kerasseq.ocr.ctc_loss", "kerasseq.ocr.recognizer")


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'kerasseq' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY) + list(_SUBMODULES))


def register_with_keras():
    """Import the modules that register kerasseq's classes (Recognizer, CTCLoss, the
    arithmetic layers) with ``keras.saving``; imports Keras."""
    for module in _SERIALIZABLE_MODULES:
        importlib.import_module(module)


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Runs :func:`register_with_keras` right after the first ``import keras`` finishes,
    so that importing kerasseq neither imports Keras nor leaves it without our classes."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            register_with_keras()

        spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    register_with_keras()
elif not any(isinstance(finder, _RegisterAfterKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())

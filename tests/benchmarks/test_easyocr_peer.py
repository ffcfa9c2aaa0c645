"""The EasyOCR peer: its worker process (with a stand-in easyocr package, and the real one
where ``make peers`` installed it), and how a missing EasyOCR is found out."""

import json
import string
import sys

import numpy as np
import pytest

from kerasseq.benchmarks.easyocr_peer import find_easyocr, read_with_easyocr
from kerasseq.errors import DataError
from tests.helpers import render_clean_words

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once

#: A stand-in for EasyOCR's Reader: logs each call and reads every image as " a b<height> ".
FAKE_EASYOCR = '''
import json, os

class Reader:
    def __init__(self, languages, **options):
        self.log = os.environ["FAKE_EASYOCR_LOG"]
        with open(self.log, "a") as handle:
            handle.write(json.dumps({"languages": languages, **options}) + "\\n")

    def recognize(self, image, horizontal_list, free_list, allowlist, detail):
        with open(self.log, "a") as handle:
            handle.write(json.dumps({"shape": list(image.shape), "box": horizontal_list, "free": free_list,
                                     "allowlist": allowlist, "detail": detail}) + "\\n")
        return [" a b", f"{image.shape[0]} "]
'''


@pytest.fixture
def fake_peer(tmp_path, monkeypatch):
    """A PYTHONPATH with stand-in ``easyocr`` and ``easyocr_en_models`` modules; the log path."""
    (tmp_path / "easyocr.py").write_text(FAKE_EASYOCR)
    (tmp_path / "easyocr_en_models.py").write_text("def model_dir():\n    return '/models/here'\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("FAKE_EASYOCR_LOG", str(tmp_path / "log.jsonl"))
    return tmp_path / "log.jsonl"


def write_images(folder, heights):
    import cv2

    paths = []
    for index, height in enumerate(heights):
        path = str(folder / f"{index}.png")
        cv2.imwrite(path, np.full((height, 40), 255, np.uint8))
        paths.append(path)
    return paths


def test_each_image_is_read_whole_with_the_allowlist_in_one_offline_reader(fake_peer, tmp_path):
    paths = write_images(tmp_path, [20, 32, 14])
    texts, seconds = read_with_easyocr(paths, "abc123", python=sys.executable)
    assert texts == ["ab20", "ab32", "ab14"] and seconds >= 0
    calls = [json.loads(line) for line in fake_peer.read_text().splitlines()]
    assert calls[0] == {"languages": ["en"], "gpu": False, "model_storage_directory": "/models/here", "download_enabled": False,
                        "detector": False, "verbose": False}
    assert [c["box"] for c in calls[1:]] == [[[0, 40, 0, h]] for h in (20, 32, 14)]
    assert all(c["shape"][1] == 40 and c["free"] == [] and c["allowlist"] == "abc123" and c["detail"] == 0 for c in calls[1:])


def test_a_missing_easyocr_is_found_out_and_a_failing_worker_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # nothing named easyocr here
    if find_easyocr(sys.executable):
        pytest.skip("EasyOCR is installed beside kerasseq here")
    assert find_easyocr(str(tmp_path / "no-python")) is None
    with pytest.raises(DataError, match="easyocr failed"):
        read_with_easyocr(write_images(tmp_path, [20]), "abc", python=sys.executable)


def test_real_easyocr_reads_clean_words_within_its_allowlist(tmp_path):
    python = find_easyocr()
    if python is None:
        pytest.skip("EasyOCR is not installed (make peers)")
    images = render_clean_words(tmp_path, 16)
    texts, _ = read_with_easyocr([path for path, _, _ in images], string.digits, python)
    assert all(set(text) <= set(string.digits) for text in texts)
    texts, _ = read_with_easyocr([path for path, _, _ in images], string.ascii_letters + string.digits, python)
    assert np.mean([t == text for t, (_, text, _) in zip(texts, images)]) >= 0.6

"""Reading word images with Tesseract 5, a peer of ``scripts/bench_readers.py``.

Set-up (Debian): ``apt-get install tesseract-ocr`` (English is its default language). One
``tesseract`` process reads a whole list of images, so its start-up and model loading are
paid once, as a long-running reader would.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

from kerasseq.errors import DataError

INSTALL_HINT = "install Debian's tesseract-ocr (apt-get install tesseract-ocr)"


def find_tesseract():
    """Path of a Tesseract 5 (or later) executable on PATH, or None."""
    path = shutil.which("tesseract")
    if not path:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"tesseract\s+v?(\d+)", done.stdout + done.stderr)
    return path if match and int(match.group(1)) >= 5 else None


def read_with_tesseract(paths, whitelist, executable="tesseract", page_mode=7):
    """Tesseract's reading of each image file, as one text line per image.

    paths: image files; whitelist: the characters Tesseract may output (the model's
    charset); page_mode: ``--psm`` (7 = the image is one line of text). Whitespace
    inside a reading is removed, since every image holds one word. Returns (texts in
    the order of ``paths``, wall-clock seconds of the whole run).
    """
    if not paths:
        return [], 0.0
    with tempfile.TemporaryDirectory() as folder:
        listing = os.path.join(folder, "images.txt")
        with open(listing, "w", encoding="utf-8") as handle:
            handle.write("".join(os.path.abspath(path) + "\n" for path in paths))
        command = [executable, listing, "stdout", "--psm", str(page_mode), "-c", f"tessedit_char_whitelist={whitelist}"]
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            raise DataError(f"cannot run {executable}: {error.strerror}; {INSTALL_HINT}") from None
        seconds = time.perf_counter() - start
    if done.returncode:
        raise DataError(f"tesseract failed (exit status {done.returncode}): {done.stderr.strip()[-300:]}")
    pages = done.stdout.split("\f")  # one page per image, separated by form feeds
    if len(pages) == len(paths) + 1 and not pages[-1].strip():
        pages = pages[:-1]
    if len(pages) != len(paths):
        raise DataError(f"tesseract returned {len(pages)} readings for {len(paths)} images")
    return ["".join(page.split()) for page in pages], seconds

"""A recogniser's font record: the font files it trained on and the ones held out from it.

Beside ``NAME.keras`` lie ``NAME.fonts.txt`` (training font file names, one a line) and
``NAME.heldout.txt`` (held-out ones), so an evaluator on another machine can hold out what
the model really never saw. ``train_crnn.py`` writes them from its datasets' manifests,
which list the fonts of their rendered images (``manifest["fonts"]``, per split).
"""

import os

from kerasseq import atomic
from kerasseq.data.dataset import read_manifests


def record_paths(model_path):
    """(``NAME.fonts.txt``, ``NAME.heldout.txt``) beside the model file ``NAME.keras``."""
    stem = os.path.splitext(model_path)[0]
    return stem + ".fonts.txt", stem + ".heldout.txt"


def read_names(path):
    """The font file names in ``path``, one a line (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def read_font_record(model_path):
    """(training font file names, held-out font file names) recorded beside the model file
    ``model_path``, or None when it has no such record."""
    paths = record_paths(model_path)
    if not all(os.path.isfile(path) for path in paths):
        return None
    return tuple(read_names(path) for path in paths)


def write_font_record(model_path, training, held_out):
    """Write the record of ``model_path``: the sorted file names ``training`` and ``held_out``."""
    for path, names in zip(record_paths(model_path), (training, held_out)):
        atomic.write_bytes(path, "".join(f"{name}\n" for name in sorted(names)).encode("utf-8"))


def dataset_fonts(folders):
    """(font file names of the training images, of the validation images) over every
    manifest of the dataset folders ``folders``, or None when one of them does not list
    its fonts (a source with no font column, or built before manifests listed them)."""
    training, held_out = set(), set()
    for folder in [folders] if isinstance(folders, (str, os.PathLike)) else folders:
        for manifest in read_manifests(folder):
            if "fonts" not in manifest:
                return None
            training.update(manifest["fonts"].get("train", []))
            held_out.update(manifest["fonts"].get("val", []))
    return sorted(training), sorted(held_out)

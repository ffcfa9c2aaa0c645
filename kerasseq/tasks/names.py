"""Many-to-one: the language a surname comes from, read character by character.

Reads the usual layout: a folder of ``Language.txt`` files, one name per line, UTF-8. A
small real sample (7 languages, about 60 names each) ships in the package and is the
default.
"""

import os
from importlib import resources

from kerasseq.errors import DataError
from kerasseq.tasks.classifier import train_classifier
from kerasseq.tasks.common import seed_everything

DEFAULTS = {"units": 64, "epochs": 30, "learning_rate": 5e-3, "batch_size": 32, "max_length": 20}


def sample_folder():
    """The shipped sample: a folder of ``Language.txt`` files."""
    return str(resources.files("kerasseq.resources").joinpath("names"))


def load_names(folder):
    """Read a folder of ``Language.txt`` files -> (names: list of str, labels: list of int,
    languages: sorted list of str). Blank lines are skipped; a name listed twice under one
    language counts once."""
    if not os.path.isdir(folder):
        raise DataError(f"names data {folder!r} is not a folder; expected a folder of Language.txt files, one name per line")
    files = sorted(f for f in os.listdir(folder) if f.endswith(".txt"))
    names, labels, languages = [], [], []
    for file_name in files:
        try:
            with open(os.path.join(folder, file_name), encoding="utf-8") as handle:
                entries = sorted({line.strip() for line in handle if line.strip()})
        except UnicodeDecodeError:
            raise DataError(f"{file_name} in {folder!r} is not UTF-8 text; expected one name per line") from None
        if entries:
            languages.append(file_name[:-4])
            names += entries
            labels += [len(languages) - 1] * len(entries)
    if len(languages) < 2:
        raise DataError(f"found {len(languages)} non-empty Language.txt file(s) in {folder!r}; "
                        "expected at least 2 languages, one name per line")
    return names, labels, languages


def run(options):
    """Train on 80% of the names, report held-out accuracy against the majority class,
    and draw the confusion matrix (``confusion_matrix.png`` in ``--out``)."""
    rng = seed_everything(options.seed)
    names, labels, languages = load_names(options.pick("data", sample_folder()))
    return train_classifier("names", [list(name) for name in names], labels, languages, options, rng, DEFAULTS)

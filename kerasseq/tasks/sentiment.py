"""Many-to-one: 5-class phrase sentiment (0 negative ... 4 positive), word by word.

Reads the usual tab-separated layout with a header naming a ``Phrase`` and a ``Sentiment``
column (the Rotten Tomatoes phrase file, ``train.tsv``, is read unchanged). A tiny
hand-written sample in that layout ships in the package and is the default.
"""

import csv
import os
from importlib import resources

from kerasseq.errors import DataError
from kerasseq.tasks.classifier import train_classifier
from kerasseq.tasks.common import seed_everything

CLASSES = ("negative", "somewhat negative", "neutral", "somewhat positive", "positive")
DEFAULTS = {"units": 64, "epochs": 15, "learning_rate": 5e-3, "batch_size": 32, "max_length": 60}


def sample_file():
    """The shipped sample: 200 phrases, 40 per class, in the ``Phrase``/``Sentiment`` layout."""
    return str(resources.files("kerasseq.resources").joinpath("sentiment_sample.tsv"))


def load_phrases(path):
    """Read a TSV with ``Phrase`` and ``Sentiment`` columns -> (phrases, labels 0-4).

    Phrases are lower-cased and split on white space (the reference file is already
    tokenised); empty phrases are skipped.
    """
    if not os.path.isfile(path):
        raise DataError(f"sentiment data {path!r} is not a file; expected a tab-separated file with Phrase and Sentiment columns")
    phrases, labels = [], []
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        if "Phrase" not in header or "Sentiment" not in header:
            raise DataError(f"{path!r} has header {header[:6]}; expected a tab-separated header with "
                            "'Phrase' and 'Sentiment' columns (labels 0-4)")
        phrase_column, label_column = header.index("Phrase"), header.index("Sentiment")
        for line_number, row in enumerate(reader, start=2):
            if len(row) <= max(phrase_column, label_column):
                raise DataError(f"{path!r} line {line_number} has {len(row)} fields; expected {len(header)}")
            label = row[label_column].strip()
            if label not in ("0", "1", "2", "3", "4"):
                raise DataError(f"{path!r} line {line_number}: sentiment {label!r} is not one of 0-4")
            words = row[phrase_column].lower().split()
            if words:
                phrases.append(words)
                labels.append(int(label))
    if len(set(labels)) < 2:
        raise DataError(f"{path!r} holds {len(labels)} phrases in {len(set(labels))} class(es); need at least 2 classes")
    return phrases, labels


def run(options):
    """Train on 80% of the phrases; report held-out accuracy against the majority class and
    draw the confusion matrix (``confusion_matrix.png`` in ``--out``)."""
    rng = seed_everything(options.seed)
    phrases, labels = load_phrases(options.pick("data", sample_file()))
    return train_classifier("sentiment", phrases, labels, CLASSES, options, rng, DEFAULTS)

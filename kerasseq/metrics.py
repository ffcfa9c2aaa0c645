"""Recognition quality: word accuracy, character error rate, normalised edit distance."""

import numpy as np
from rapidfuzz.distance import Levenshtein


def word_accuracy(predicted, truth, case_sensitive=True):
    """Share of words read exactly (0..1); ``case_sensitive=False`` compares lower case."""
    if not truth:
        return 0.0
    if not case_sensitive:
        predicted = [p.lower() for p in predicted]
        truth = [t.lower() for t in truth]
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


def character_error_rate(predicted, truth):
    """Total edits (insertions, deletions, substitutions) over total truth characters."""
    edits = sum(Levenshtein.distance(p, t) for p, t in zip(predicted, truth, strict=True))
    return edits / max(1, sum(len(t) for t in truth))


def normalized_edit_distance(predicted, truth):
    """Mean over words of edits / max(len(prediction), len(truth)), 0..1."""
    if not truth:
        return 0.0
    return float(np.mean([Levenshtein.normalized_distance(p, t) for p, t in zip(predicted, truth, strict=True)]))


def recognition_report(predicted, truth):
    """The four numbers of an evaluation as a dict."""
    return {
        "word_accuracy": word_accuracy(predicted, truth),
        "word_accuracy_nocase": word_accuracy(predicted, truth, case_sensitive=False),
        "cer": character_error_rate(predicted, truth),
        "ned": normalized_edit_distance(predicted, truth),
    }

"""Recognition quality: word accuracy, character error rate, normalised edit distance."""

import math

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


def wilson_interval(successes, trials, z=1.959963984540054):
    """The Wilson score interval (lower, upper) of a success rate, 95% by default
    (Wilson 1927): it stays inside [0, 1] and is honest near 0 and 1, where the normal
    approximation is not (5 misses in 500 is 0.977-0.996, not the normal 0.981-0.999)."""
    if trials <= 0:
        return (0.0, 1.0)
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials))
    return (max(0.0, centre - half), min(1.0, centre + half))


def recognition_report(predicted, truth):
    """The numbers of an evaluation as a dict: word accuracy with its 95% Wilson interval
    (``word_accuracy_low``, ``word_accuracy_high``), without case, CER and NED."""
    accuracy = word_accuracy(predicted, truth)
    low, high = wilson_interval(round(accuracy * len(truth)), len(truth))
    return {
        "word_accuracy": accuracy,
        "word_accuracy_low": low,
        "word_accuracy_high": high,
        "word_accuracy_nocase": word_accuracy(predicted, truth, case_sensitive=False),
        "cer": character_error_rate(predicted, truth),
        "ned": normalized_edit_distance(predicted, truth),
    }

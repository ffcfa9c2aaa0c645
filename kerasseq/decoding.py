"""Turning per-step class probabilities into text with a confidence.

Input everywhere: probabilities (batch, T, N + 1) from a recogniser's softmax, class 0
the CTC blank and class i the charset's i-th character. Output: one
:class:`Reading` (text, confidence in [0, 1]) per image, or N per image for beam search.
"""

import dataclasses

import numpy as np
from keras import ops
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from kerasseq.charset import BLANK_INDEX
from kerasseq.errors import DataError

DECODERS = ("greedy", "beam")
#: Lexicon decoding scores at most this many candidate words per image.
CANDIDATE_LIMIT = 64
#: Longest lexicon word (the CRNN emits 31 steps).
MAX_LEXICON_WORD = 31


@dataclasses.dataclass(frozen=True)
class Reading:
    """A decoded word and the model's probability for it (0..1)."""

    text: str
    confidence: float


def _log(probabilities):
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float32), 1e-30, 1.0))


def best_path_classes(probabilities):
    """(batch, T, C) -> (batch, T) int: best class per step, repeats merged and blanks
    (and merged repeats) replaced by -1."""
    best = np.asarray(probabilities).argmax(axis=-1)
    previous = np.concatenate([np.full((best.shape[0], 1), -1), best[:, :-1]], axis=1)
    keep = (best != BLANK_INDEX) & (best != previous)
    return np.where(keep, best, -1)


def greedy_decode(probabilities, charset):
    """Best-path decoding: the most likely class per step, repeats merged, blanks
    removed. Confidence: the product of the chosen steps' probabilities, i.e. the
    probability of that one path."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    classes = best_path_classes(probabilities)
    confidences = np.exp(_log(probabilities.max(axis=-1)).sum(axis=-1))
    return [Reading(charset.decode(row), float(c)) for row, c in zip(classes, confidences)]


def beam_search_decode(probabilities, charset, beam_width=10, top_paths=1):
    """CTC beam search (Keras's ``ops.ctc_decode``): ``top_paths`` readings per image,
    best first. Confidence: the probability beam search gives the labelling."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if not 1 <= top_paths <= beam_width:
        raise DataError(f"top paths ({top_paths}) must be between 1 and the beam width ({beam_width})")
    batch, steps = probabilities.shape[:2]
    paths, log_probabilities = ops.ctc_decode(
        _log(probabilities),
        np.full((batch,), steps, dtype=np.int32),
        strategy="beam_search",
        beam_width=beam_width,
        top_paths=top_paths,
        mask_index=BLANK_INDEX,
    )
    paths = ops.convert_to_numpy(paths)
    scores = np.clip(np.exp(ops.convert_to_numpy(log_probabilities)), 0.0, 1.0)
    return [
        [Reading(charset.decode(paths[rank, image]), float(scores[image, rank])) for rank in range(top_paths)]
        for image in range(batch)
    ]


def sequence_log_likelihoods(probabilities, labels):
    """log P(label | output) under CTC for each row: probabilities (n, T, C), labels
    (n, L) padded with 0 -> (n,) float64; -inf where a label cannot be emitted in T steps.

    The CTC forward algorithm in log space, vectorised over rows in NumPy: scoring
    many short candidates per image is then thousands of words per second on every
    backend, where the backends' eager ``ctc_loss`` recompiles per call.
    """
    log_probabilities = _log(probabilities).astype(np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    count, steps = log_probabilities.shape[:2]
    lengths = (labels != BLANK_INDEX).sum(axis=1)
    states = 2 * labels.shape[1] + 1
    extended = np.zeros((count, states), dtype=np.int64)  # blank, l1, blank, l2, ..., blank
    extended[:, 1::2] = labels
    # a state may skip the blank before it when its label differs from the one two back
    can_skip = np.zeros((count, states), dtype=bool)
    can_skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    rows = np.arange(count)[:, np.newaxis]
    alpha = np.full((count, states), -np.inf)
    alpha[:, 0] = log_probabilities[:, 0, BLANK_INDEX]
    alpha[:, 1] = log_probabilities[np.arange(count), 0, extended[:, 1]]
    for step in range(1, steps):
        stay = alpha
        advance = np.concatenate([np.full((count, 1), -np.inf), alpha[:, :-1]], axis=1)
        skip = np.concatenate([np.full((count, 2), -np.inf), alpha[:, :-2]], axis=1)
        skip = np.where(can_skip, skip, -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, advance), skip) + log_probabilities[rows, step, extended]
    last = 2 * lengths
    return np.logaddexp(alpha[np.arange(count), last], np.where(lengths > 0, alpha[np.arange(count), last - 1], -np.inf))


class Lexicon:
    """A word list for lexicon-constrained decoding, bucketed by word length."""

    def __init__(self, words, charset):
        words = sorted({w.strip() for w in words if w.strip()})
        if not words:
            raise DataError("the lexicon is empty")
        for word in words:
            unknown = charset.unknown_characters(word)
            if unknown:
                raise DataError(f"lexicon word {word!r} has characters outside the model's charset: {unknown!r}")
            if len(word) > MAX_LEXICON_WORD:
                raise DataError(f"lexicon word {word[:40]!r}... is longer than {MAX_LEXICON_WORD} characters")
        self.words = words
        self.charset = charset
        self.by_length = {}
        for word in words:
            self.by_length.setdefault(len(word), []).append(word)

    @classmethod
    def from_file(cls, path, charset):
        """Lexicon from a UTF-8 file, one word per line."""
        try:
            with open(path, encoding="utf-8") as handle:
                return cls(handle.read().split("\n"), charset)
        except OSError as error:
            raise DataError(f"cannot read lexicon {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise DataError(f"lexicon {path} is not UTF-8 text") from None

    def candidates(self, text, max_distance, limit=CANDIDATE_LIMIT):
        """Up to ``limit`` words within ``max_distance`` edits of ``text``, closest first
        (C++ Levenshtein over only the length buckets that can be that close); the
        closest word if none is."""
        found = []
        for length in range(max(1, len(text) - max_distance), len(text) + max_distance + 1):
            bucket = self.by_length.get(length)
            if bucket:
                found.extend(
                    process.extract(text, bucket, scorer=Levenshtein.distance, score_cutoff=max_distance, limit=limit)
                )
        if not found:
            return [process.extractOne(text, self.words, scorer=Levenshtein.distance)[0]]
        found.sort(key=lambda match: (match[1], match[0]))
        return [match[0] for match in found[:limit]]


def lexicon_decode(probabilities, lexicon, max_distance=3):
    """Lexicon-constrained decoding as in the CRNN paper: candidates are the (up to 64
    closest) lexicon words within ``max_distance`` edits of the greedy reading, ranked
    by their CTC probability. Confidence: that probability (0..1).
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    readings = []
    for image, greedy in zip(probabilities, greedy_decode(probabilities, lexicon.charset)):
        words = lexicon.candidates(greedy.text, max_distance)
        labels = lexicon.charset.encode_padded(words)
        scores = sequence_log_likelihoods(np.repeat(image[np.newaxis], len(words), axis=0), labels)
        best = int(np.argmax(scores))
        readings.append(Reading(words[best], float(np.exp(scores[best]))))
    return readings


def decode(probabilities, charset, decoder="greedy", beam_width=10, lexicon=None):
    """One reading per image with the named decoder; a lexicon overrides both."""
    if lexicon is not None:
        return lexicon_decode(probabilities, lexicon)
    if decoder == "greedy":
        return greedy_decode(probabilities, charset)
    if decoder == "beam":
        return [paths[0] for paths in beam_search_decode(probabilities, charset, beam_width)]
    raise DataError(f"unknown decoder {decoder!r}; use one of {', '.join(DECODERS)}")

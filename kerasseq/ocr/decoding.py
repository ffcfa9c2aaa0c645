"""Turning per-step class probabilities into text with a confidence.

Input everywhere: probabilities (batch, T, N + 1) from a recogniser's softmax, class 0
the CTC blank and class i the charset's i-th character. Output: one
:class:`Reading` (text, confidence in [0, 1]) per image, or N per image for beam search.
"""

import dataclasses

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from kerasseq.errors import DataError
from kerasseq.ocr.charset import BLANK_INDEX
from kerasseq.ocr.presets import TIME_STEPS

DECODERS = ("greedy", "beam")
#: Lexicon decoding scores at most this many candidate words per image.
CANDIDATE_LIMIT = 64
#: Longest lexicon word (the CRNN emits 31 steps).
MAX_LEXICON_WORD = TIME_STEPS


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


def _extend_beams(beams, step_log_probabilities):
    """One step of CTC prefix beam search over a batch of images.

    ``beams``: (prefixes (B, W, T) int, -1 past each prefix's end; lengths (B, W);
    log P(prefix, last step blank) and log P(prefix, last step a character), (B, W)
    each, -inf for an empty slot). ``step_log_probabilities``: (B, C). Returns the
    next ``beams``.

    A candidate is a beam kept (a blank, or its last character again) or a beam plus
    one character. The only candidates that can spell the same prefix are a kept beam
    and its parent plus its last character, so that sum is folded into the kept beam
    and every other candidate is distinct: no hashing or sorting of prefixes.
    """
    prefixes, lengths, blank_end, char_end = beams
    batch, width = lengths.shape
    rows, slots = np.arange(batch)[:, None], np.arange(width)[None, :]
    total = np.logaddexp(blank_end, char_end)
    alive = np.isfinite(total)
    has_text = lengths > 0
    end = np.maximum(lengths - 1, 0)
    last = np.where(has_text, prefixes[rows, slots, end], BLANK_INDEX)
    kept_blank = total + step_log_probabilities[:, BLANK_INDEX, None]
    kept_char = np.where(has_text, char_end + step_log_probabilities[rows, last], -np.inf)
    # (B, W, C); repeating the last character needs a blank in between
    repeat = np.arange(step_log_probabilities.shape[1]) == last[..., None]
    extended = np.where(repeat, blank_end[..., None], total[..., None]) + step_log_probabilities[:, None, :]
    extended[..., BLANK_INDEX] = -np.inf
    parents = prefixes.copy()
    parents[rows, slots, end] = -1
    is_parent = (parents[:, :, None, :] == prefixes[:, None, :, :]).all(-1)  # (B, child, parent)
    is_parent &= (has_text & alive)[:, :, None] & alive[:, None, :]
    has_parent, parent = is_parent.any(-1), is_parent.argmax(-1)
    kept_char = np.where(has_parent, np.logaddexp(kept_char, extended[rows, parent, last]), kept_char)
    image, child = np.nonzero(has_parent)
    extended[image, parent[image, child], last[image, child]] = -np.inf
    candidates = np.concatenate([np.logaddexp(kept_blank, kept_char), extended.reshape(batch, -1)], axis=1)
    best = np.argpartition(-candidates, width - 1, axis=1)[:, :width]
    is_kept = best < width
    origin = np.where(is_kept, best, (best - width) // extended.shape[2])
    new_prefixes, new_lengths = prefixes[rows, origin], lengths[rows, origin]
    image, slot = np.nonzero(~is_kept)
    new_prefixes[image, slot, new_lengths[image, slot]] = (best[image, slot] - width) % extended.shape[2]
    kept = np.minimum(best, width - 1)
    return (new_prefixes, new_lengths + ~is_kept, np.where(is_kept, kept_blank[rows, kept], -np.inf),
            np.where(is_kept, kept_char[rows, kept], candidates[rows, best]))


def beam_search_decode(probabilities, charset, beam_width=10, top_paths=1):
    """CTC prefix beam search: ``top_paths`` readings per image, best first.
    Confidence: the summed probability of all paths that spell the reading (0..1).

    Vectorised over the batch in NumPy, so it runs alike on every backend (Keras's
    ``ops.ctc_decode`` beam search decodes about 10 sequences/s on JAX and PyTorch).
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if not 1 <= top_paths <= beam_width:
        raise DataError(f"top paths ({top_paths}) must be between 1 and the beam width ({beam_width})")
    log_probabilities = _log(probabilities).astype(np.float64)
    batch, steps = log_probabilities.shape[:2]
    blank_end = np.full((batch, beam_width), -np.inf)
    blank_end[:, 0] = 0.0  # the empty prefix, before the first step
    beams = (np.full((batch, beam_width, steps), -1, np.int64), np.zeros((batch, beam_width), np.int64),
             blank_end, np.full((batch, beam_width), -np.inf))
    for step in range(steps):
        beams = _extend_beams(beams, log_probabilities[:, step])
    prefixes, _, blank_end, char_end = beams
    scores = np.logaddexp(blank_end, char_end)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top_paths]
    return [
        [Reading(charset.decode(prefixes[image, slot]), float(np.clip(np.exp(scores[image, slot]), 0.0, 1.0)))
         for slot in order[image]]
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

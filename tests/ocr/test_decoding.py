import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras import ops

from kerasseq.benchmarks.crnn_speed import CHARSET, word_outputs
from kerasseq.errors import DataError
from kerasseq.ocr.charset import Charset
from kerasseq.ocr.decoding import Lexicon, beam_search_decode, decode, greedy_decode, lexicon_decode, sequence_log_likelihoods

AB = Charset("ab")  # class 0 blank, 1 'a', 2 'b'


def one_hot_path(path, peak=0.9, classes=3):
    """Probabilities (1, T, classes) whose best class per step follows ``path``."""
    probabilities = np.full((1, len(path), classes), (1 - peak) / (classes - 1), np.float32)
    probabilities[0, np.arange(len(path)), path] = peak
    return probabilities


@pytest.mark.parametrize("path, text", [
    ([1, 1, 0, 1, 2, 2], "aab"),   # repeats merge; a blank separates a real repeat
    ([1, 0, 1], "aa"),
    ([1, 1, 1], "a"),
    ([0, 0, 0, 0], ""),            # all blank: empty output
    ([2, 0, 0, 1, 0], "ba"),
])
def test_greedy_hand_examples(path, text):
    reading = greedy_decode(one_hot_path(path), AB)[0]
    assert reading.text == text
    assert reading.confidence == pytest.approx(0.9 ** len(path), rel=1e-5)


def test_beam_search_sums_paths_where_greedy_takes_one():
    # two steps, P(blank)=0.6, P(a)=0.4: the best single path is blank-blank (0.36, ""),
    # but "a" has three paths: a-a, a-blank, blank-a = 0.16 + 0.24 + 0.24 = 0.64
    probabilities = np.array([[[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]]], np.float32)
    assert greedy_decode(probabilities, AB)[0].text == ""
    best, second = beam_search_decode(probabilities, AB, beam_width=4, top_paths=2)[0]
    assert best.text == "a" and best.confidence == pytest.approx(0.64, abs=1e-3)
    assert second.text == "" and second.confidence == pytest.approx(0.36, abs=1e-3)
    assert decode(probabilities, AB, "beam", beam_width=4)[0].text == "a"


def test_beam_search_agrees_with_greedy_on_peaked_outputs():
    probabilities = one_hot_path([1, 0, 1, 2, 2, 0, 2], peak=0.98)
    assert beam_search_decode(probabilities, AB, beam_width=10)[0][0].text == "aabb"
    with pytest.raises(DataError, match="top paths"):
        beam_search_decode(probabilities, AB, beam_width=2, top_paths=3)


def exact_labelling_probabilities(probabilities, charset):
    """{text: P(text)} for one image's (T, C) probabilities, by summing every path."""
    steps, classes = probabilities.shape
    exact = {}
    for path in itertools.product(range(classes), repeat=steps):
        text = charset.decode([c for i, c in enumerate(path) if i == 0 or c != path[i - 1]])
        exact[text] = exact.get(text, 0.0) + float(np.prod(probabilities[np.arange(steps), path]))
    return exact


@pytest.mark.parametrize("seed", range(40))
def test_beam_search_with_room_for_every_prefix_is_exact(seed):
    rng = np.random.default_rng(seed)
    steps = int(rng.integers(1, 6))
    probabilities = rng.dirichlet(np.ones(3), size=(1, steps)).astype(np.float32)
    exact = sorted(exact_labelling_probabilities(probabilities[0], AB).items(), key=lambda item: -item[1])
    width = 2 ** (steps + 1)  # more than the 2^(T+1) - 1 prefixes of up to T letters
    readings = beam_search_decode(probabilities, AB, beam_width=width, top_paths=len(exact))[0]
    assert [r.confidence for r in readings] == pytest.approx([p for _, p in exact], abs=1e-6)
    assert {r.text: r.confidence for r in readings} == pytest.approx(dict(exact), abs=1e-6)


def test_beam_search_reads_batches_of_model_like_outputs():
    words = ["hello", "book", "letter", "aa", "Beam", "x", "", "kerasseq"] * 8
    outputs = word_outputs(words)
    assert [paths[0].text for paths in beam_search_decode(outputs, CHARSET, beam_width=10)] == words


def test_sequence_log_likelihood_matches_keras_ctc_loss():
    rng = np.random.default_rng(0)
    probabilities = rng.random((5, 31, 10)).astype(np.float32)
    probabilities /= probabilities.sum(-1, keepdims=True)
    labels = np.array([[1, 2, 3, 0], [1, 1, 0, 0], [4, 4, 4, 4], [2, 0, 0, 0], [5, 6, 5, 6]], np.int32)
    keras_loss = ops.convert_to_numpy(ops.ctc_loss(labels, np.log(probabilities), (labels != 0).sum(1).astype(np.int32),
                                                   np.full(5, 31, np.int32), mask_index=0))
    np.testing.assert_allclose(sequence_log_likelihoods(probabilities, labels), -keras_loss, rtol=1e-4)
    # a label needing more steps than there are has probability 0
    assert sequence_log_likelihoods(probabilities[:1, :3], np.array([[1, 1, 1]])) == -np.inf


def test_lexicon_decoding_corrects_a_misread_word():
    charset = Charset.from_spec("alnum")
    path = []
    for character in "hcllo":
        path += [int(charset.encode(character)[0]), 0]
    probabilities = one_hot_path(path, peak=0.6, classes=charset.num_classes)
    e = int(charset.encode("e")[0])
    probabilities[0, 2, e] = 0.35  # 'e' was a close second to 'c'
    lexicon = Lexicon(["hello", "hallo", "world", "help", "cello"], charset)
    reading = lexicon_decode(probabilities, lexicon)[0]
    assert reading.text == "hello"
    assert 0 < reading.confidence < 1
    assert decode(probabilities, charset, lexicon=lexicon)[0].text == "hello"


def test_lexicon_candidates_in_a_large_list():
    from data_prep.rendering import default_lexicon

    lexicon = Lexicon(default_lexicon(), Charset.from_spec("alnum"))
    assert len(lexicon.words) > 70_000
    candidates = lexicon.candidates("recogniser", 3)
    assert "recognizer" in candidates and len(candidates) <= 64
    assert lexicon.candidates("zzzzzzzzzzzzqqqq", 1)  # nothing close: the closest word


def test_lexicon_refuses_words_the_model_cannot_spell(tmp_path):
    with pytest.raises(DataError, match="outside the model's charset"):
        Lexicon(["fine", "na\u00efve"], Charset.from_spec("alnum"))
    with pytest.raises(DataError, match="lexicon is empty"):
        Lexicon(["", " "], Charset.from_spec("alnum"))
    with pytest.raises(DataError, match="cannot read lexicon"):
        Lexicon.from_file(str(tmp_path / "missing.txt"), Charset.from_spec("alnum"))


probability_batches = hnp.arrays(np.float32, st.tuples(st.just(3), st.sampled_from([6, 31]), st.just(4)),
                                 elements=st.floats(1 / 1024, 1.0, width=32))


@settings(max_examples=60, deadline=None)
@given(probability_batches)
def test_decoding_invariants(raw):
    charset = Charset("xyz")
    probabilities = raw / raw.sum(axis=-1, keepdims=True)
    best = probabilities.argmax(-1)
    for row, reading in zip(best, greedy_decode(probabilities, charset)):
        collapsed = [c for i, c in enumerate(row) if c != 0 and (i == 0 or c != row[i - 1])]
        assert reading.text == "".join("xyz"[c - 1] for c in collapsed)
        assert 0.0 <= reading.confidence <= 1.0
    for paths in beam_search_decode(probabilities, charset, beam_width=3, top_paths=2):
        for reading in paths:
            assert set(reading.text) <= set("xyz") and len(reading.text) <= probabilities.shape[1]
            assert 0.0 <= reading.confidence <= 1.0 + 1e-6
        assert paths[0].confidence >= paths[1].confidence - 1e-6

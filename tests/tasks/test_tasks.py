"""The classic RNN task models: data generators, loaders, shapes, and small trainings that
must beat stated floors on every backend."""

import json
import os

import keras
import numpy as np
import pytest

from kerasseq.errors import DataError, KerasseqError
from kerasseq.tasks import TASKS, binary_add, forecast, hello, kth_digit, names, run_task, sentiment, seq2seq, vec2seq
from kerasseq.tasks.classifier import Vocabulary, build_classifier, confusion_matrix
from kerasseq.tasks.common import TaskOptions, recurrent_stack
from tests.helpers import run_script


def quiet(**options):
    return TaskOptions(verbose=0, **options)


# --- shapes: every task model with every cell, stacked ------------------------------------

MODEL_CASES = {
    "kth-digit": (lambda cell: kth_digit.build_model(cell, 2, 8), [np.zeros((3, 7, 10), "float32")], (3, 10)),
    "binary-add": (lambda cell: binary_add.build_model(cell, 2, 8), [np.zeros((3, 9, 2), "float32")], (3, 9, 1)),
    "hello": (lambda cell: hello.build_model(5, "embedding", cell, 2, 8), [np.zeros((3, 6), "int32")], (3, 6, 5)),
    "names": (lambda cell: build_classifier(30, 7, cell, 2, 8), [np.ones((3, 12), "int32")], (3, 7)),
    "sentiment": (lambda cell: build_classifier(50, 5, cell, 2, 8), [np.ones((3, 20), "int32")], (3, 5)),
    "forecast": (lambda cell: forecast.build_model(24, cell, 2, 8), [np.zeros((3, 24, 1), "float32")], (3, 1)),
    "seq2seq": (lambda cell: seq2seq.build_model(20, 13, cell, 2, 8),
                [np.ones((3, 5), "int32"), np.ones((3, 4), "int32")], (3, 4, 13)),
    "vec2seq": (lambda cell: vec2seq.build_model(10, 6, 20, cell, 2, 8), [np.eye(10, dtype="float32")[:3]],
                (3, 6, 20)),
}


def test_every_task_has_a_shape_case():
    assert set(MODEL_CASES) == set(TASKS)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("task", sorted(MODEL_CASES))
def test_task_models_build_with_every_cell_stacked(task, cell):
    build, inputs, expected = MODEL_CASES[task]
    model = build(cell)
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert {type(layer).__name__ for layer in recurrent} == {{"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[cell]}
    assert len(recurrent) == (4 if task == "seq2seq" else 2)
    assert tuple(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0).shape) == expected


def test_recurrent_stack_refuses_bad_settings():
    with pytest.raises(KerasseqError, match="unknown cell"):
        recurrent_stack("transformer", 1, 4)
    with pytest.raises(KerasseqError, match="at least one layer"):
        recurrent_stack("lstm", 0, 4)


# --- kth digit ------------------------------------------------------------------------------

def test_kth_digit_sequences_pad_after_length_and_target_the_kth():
    inputs, targets = kth_digit.make_sequences(200, 3, (3, 10), np.random.default_rng(0))
    lengths = inputs.sum(axis=(1, 2))
    assert inputs.shape == (200, 10, 10) and set(lengths) <= set(range(3, 11)) and len(set(lengths)) > 5
    for row, length in zip(inputs, lengths.astype(int)):
        assert np.all(row[length:] == 0) and np.all(row[:length].sum(axis=1) == 1)
    np.testing.assert_array_equal(np.argmax(inputs[:, 2], axis=1), targets)


def test_kth_digit_masking_makes_padding_irrelevant():
    model = kth_digit.build_model("lstm", 1, 8)
    inputs, _ = kth_digit.make_sequences(8, 3, (3, 5), np.random.default_rng(1), steps=5)
    padded = np.concatenate([inputs, np.zeros((8, 15, 10), "float32")], axis=1)
    np.testing.assert_allclose(model.predict(inputs, verbose=0), model.predict(padded, verbose=0), atol=1e-5)


def test_kth_digit_learns_and_holds_on_longer_sequences():
    metrics = run_task("kth-digit", quiet(samples=4000, epochs=8)).metrics
    assert metrics["accuracy"] >= 0.8 and metrics["long_accuracy"] >= 0.5, metrics


def test_kth_digit_k_and_lengths_are_configurable():
    result = run_task("kth-digit", quiet(k=1, max_length=5, samples=2000, epochs=3))
    assert result.details["train_lengths"] == (1, 5) and result.details["long_lengths"] == (6, 10)
    assert result.metrics["accuracy"] >= 0.9, result.metrics
    with pytest.raises(KerasseqError, match="1 <= k <= max length"):
        run_task("kth-digit", quiet(k=7, max_length=5))


# --- binary addition ------------------------------------------------------------------------

def test_binary_pairs_add_up_even_at_64_bits():
    inputs, targets = binary_add.make_pairs(50, 64, np.random.default_rng(2))
    assert inputs.shape == (50, 65, 2) and targets.shape == (50, 65, 1)
    assert np.all(inputs[:, -1] == 0)
    for operands, total in zip(inputs, targets):
        a, b = binary_add.bits_to_int(operands[:, 0]), binary_add.bits_to_int(operands[:, 1])
        assert binary_add.bits_to_int(total[:, 0]) == a + b


def test_summed_squared_error_sums_over_steps():
    targets = np.zeros((2, 3, 1), "float32")
    predictions = np.full((2, 3, 1), 0.5, "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(binary_add.summed_squared_error(targets, predictions)),
                               [0.75, 0.75])


def test_binary_add_is_exact_on_training_width_and_generalises():
    metrics = run_task("binary-add", quiet(samples=4000, epochs=10)).metrics
    assert metrics["exact"] == metrics["exact_32bit"] == metrics["exact_64bit"] == 1.0, metrics


# --- hello ----------------------------------------------------------------------------------

def test_hello_encoding_shifts_by_one():
    characters, inputs, targets = hello.encode_text("hihello")
    assert characters == ["e", "h", "i", "l", "o"]
    assert "".join(characters[i] for i in inputs[0]) == "hihell"
    assert "".join(characters[i] for i in targets[0]) == "ihello"
    with pytest.raises(KerasseqError, match="at least 2 characters"):
        hello.encode_text("h")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_by_step_matches_whole_sequence(cell):
    model = hello.build_model(5, "embedding", cell, layers=2, units=6)
    ids = np.random.default_rng(3).integers(0, 5, size=(2, 7)).astype("int32")
    np.testing.assert_allclose(hello.StepRunner(model).run(ids), model.predict(ids, verbose=0), atol=1e-5)


@pytest.mark.parametrize("variant,cell", [("onehot", "rnn"), ("embedding", "lstm")])
def test_hello_learns_the_target_exactly(variant, cell):
    result = run_task("hello", quiet(problem=variant, cell=cell))
    assert result.metrics == {"exact": 1.0, "exact_stepwise": 1.0}, result.details
    assert result.details["predicted"] == "ihello"


def test_hello_learns_any_text():
    result = run_task("hello", quiet(text="banana bread"))
    assert result.details["predicted"] == result.details["predicted_stepwise"] == "anana bread"


# --- names ----------------------------------------------------------------------------------

def test_shipped_names_sample_loads():
    all_names, labels, languages = names.load_names(names.sample_folder())
    assert len(languages) == 7 and "Japanese" in languages and len(all_names) >= 400
    assert np.bincount(labels).min() >= 50


def test_names_loader_refuses_wrong_layouts(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        names.load_names(str(tmp_path / "missing"))
    (tmp_path / "English.txt").write_text("Smith\nJones\n")
    with pytest.raises(DataError, match="at least 2 languages"):
        names.load_names(str(tmp_path))
    (tmp_path / "French.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DataError, match="not UTF-8"):
        names.load_names(str(tmp_path))


def test_names_classifier_beats_the_majority_class_and_draws_the_matrix(tmp_path):
    result = run_task("names", quiet(epochs=15, out=str(tmp_path)))
    assert result.metrics["accuracy"] >= 0.5 > 3 * result.metrics["majority_baseline"], result.metrics
    matrix = np.array(result.details["confusion_matrix"])
    assert matrix.shape == (7, 7) and matrix.sum() == result.details["held_out_count"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result.metrics["accuracy"])
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 5000
    assert keras.saving.load_model(tmp_path / "model.keras").output_shape == (None, 7)


def test_vocabulary_and_confusion_matrix():
    vocabulary = Vocabulary([["a", "b", "a"], ["c"]])
    np.testing.assert_array_equal(vocabulary.encode([["a", "z"], ["c", "b", "a"]]), [[2, 1, 0], [4, 3, 2]])
    np.testing.assert_array_equal(confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2), [[1, 0], [1, 1]])


# --- sentiment ------------------------------------------------------------------------------

def test_sentiment_reads_the_reference_layout(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('PhraseId\tSentenceId\tPhrase\tSentiment\n1\t1\tA "quoted" , Fine Film\t3\n2\t1\t \t2\n'
                    "3\t2\tawful\t0\n")
    phrases, labels = sentiment.load_phrases(str(path))
    assert phrases == [["a", '"quoted"', ",", "fine", "film"], ["awful"]] and labels == [3, 0]
    shipped, shipped_labels = sentiment.load_phrases(sentiment.sample_file())
    assert len(shipped) == 200 and np.bincount(shipped_labels).tolist() == [40] * 5


@pytest.mark.parametrize("content,message", [
    ("Text\tLabel\nnice\t3\n", "'Phrase' and 'Sentiment'"),
    ("PhraseId\tPhrase\tSentiment\n1\tnice\t7\n", "not one of 0-4"),
    ("PhraseId\tPhrase\tSentiment\n1\tnice\n", "has 2 fields"),
    ("PhraseId\tPhrase\tSentiment\n1\tnice\t3\n2\tgood\t3\n", "need at least 2 classes"),
])
def test_sentiment_loader_refuses_wrong_layouts(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        sentiment.load_phrases(str(path))


def test_sentiment_classifier_beats_the_majority_class():
    metrics = run_task("sentiment", quiet(epochs=10)).metrics
    assert metrics["accuracy"] >= metrics["majority_baseline"] + 0.3, metrics


# --- forecast -------------------------------------------------------------------------------

def test_forecast_windows_and_csv_columns(tmp_path):
    inputs, targets = forecast.make_windows(np.arange(10, dtype="float32"), 4)
    assert inputs.shape == (6, 4, 1) and inputs[2, :, 0].tolist() == [2, 3, 4, 5] and targets[2, 0] == 6
    path = tmp_path / "series.csv"
    path.write_text("day,load\n1,0.5\n2,1.5\n3,2.5\n")
    assert forecast.read_column(str(path), "load").tolist() == [0.5, 1.5, 2.5]
    assert forecast.read_column(str(path), "0").tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="no column 'price'"):
        forecast.read_column(str(path), "price")
    path.write_text("day,load\n1,high\n")
    with pytest.raises(DataError, match="not a number"):
        forecast.read_column(str(path), "load")


def test_forecaster_beats_the_naive_forecast_on_a_csv(tmp_path):
    series = forecast.generated_series(1000, np.random.default_rng(4))
    path = tmp_path / "series.csv"
    path.write_text("t,value\n" + "".join(f"{t},{v}\n" for t, v in enumerate(series)))
    metrics = run_task("forecast", quiet(data=str(path), column="value", epochs=5)).metrics
    assert metrics["test_mse"] < 0.8 * metrics["naive_mse"], metrics


# --- seq2seq and vec2seq --------------------------------------------------------------------

def test_number_words_and_target_codec():
    assert seq2seq.number_words(515) == ["five", "hundred", "and", "fifteen"]
    assert seq2seq.number_words(42) == ["forty", "two"]
    codec = seq2seq.TargetCodec("0123456789")
    inputs, targets = codec.encode(["515", "7"])
    assert inputs.tolist() == [[1, 8, 4, 8], [1, 10, 0, 0]] and targets.tolist() == [[8, 4, 8, 2], [10, 2, 0, 0]]
    assert codec.decode(targets[0]) == "515" and codec.decode(targets[1]) == "7"


def test_number_hold_out_keeps_every_word_in_training():
    sources, _, candidates = seq2seq.make_pairs("numbers", np.random.default_rng(0))
    assert 21 in candidates and 30 not in candidates and 500 not in candidates and 13 not in candidates
    kept = {word for n in range(1000) if n not in candidates for word in sources[n]}
    assert kept == {word for source in sources for word in source}


@pytest.mark.parametrize("problem,epochs", [("numbers", 25), ("reverse", 4)])
def test_encoder_decoder_reads_held_out_inputs(problem, epochs):
    result = run_task("seq2seq", quiet(problem=problem, epochs=epochs, samples=6000))
    assert result.metrics["exact"] >= 0.9, result.details["examples"]


def test_vec2seq_spells_its_whole_domain(tmp_path):
    result = run_task("vec2seq", quiet(out=str(tmp_path)))
    assert result.metrics["exact"] == 1.0 and result.details["examples"][7] == (7, "seven")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metrics"]["exact"] == 1.0
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(np.eye(10, dtype="float32"), verbose=0),
                               result.model.predict(np.eye(10, dtype="float32"), verbose=0), atol=1e-5)


# --- the script -----------------------------------------------------------------------------

def test_train_task_script_prints_one_parseable_line(tmp_path):
    backend = keras.backend.backend()
    done = run_script("train_task", "hello", "--cell", "gru", "--out", tmp_path / "run", backend=backend)
    assert done.returncode == 0, done.stderr
    name, *pairs = done.stdout.strip().splitlines()[-1].split()
    assert name == "hello" and dict(pair.split("=") for pair in pairs) == {"exact": "1", "exact_stepwise": "1"}
    assert os.path.exists(tmp_path / "run" / "model.keras")
    bad = run_script("train_task", "sentiment", "--data", tmp_path / "missing.tsv", backend=backend)
    # the error is the last line; TensorFlow may log its CPU features (oneDNN) above it on import
    last = bad.stderr.strip().splitlines()[-1]
    assert bad.returncode == 2 and last.startswith("error: sentiment data") and "Traceback" not in bad.stderr


def test_step_timer_takes_the_median_after_warm_up():
    from kerasseq.benchmarks.task_speed import StepTimer

    timer = StepTimer()
    timer.ends = [0.0, 5.0, 5.1, 5.2, 5.4, 5.5]
    assert timer.steps_per_second(warmup=1) == pytest.approx(10.0)
    assert np.isnan(StepTimer().steps_per_second())

"""Many-to-one: remember the k-th digit of a variable-length sequence of one-hot digits.

9,7,0,5,6 with k=3 -> 0. Sequences are padded at the end with all-zero steps, which a
``Masking`` layer hides from the recurrent layers, so the answer cannot depend on the
padding. Held-out sequences are also longer than any seen in training.
"""

import keras
import numpy as np

from kerasseq.errors import KerasseqError
from kerasseq.tasks.common import TaskResult, apply_stack, compile_model, recurrent_stack, seed_everything

K = 3
MAX_TRAIN_LENGTH = 10


def make_sequences(count, k, lengths, rng, steps=None):
    """``count`` random digit sequences with lengths in ``lengths`` (inclusive range).

    Returns (inputs (count, steps, 10) float32 one-hot, zero-padded after each sequence;
    targets (count,) int32, the k-th digit, 1-based). ``steps`` defaults to the longest length.
    """
    low, high = lengths
    if k > low:
        raise ValueError(f"k={k} exceeds the shortest length {low}")
    steps = steps or high
    sequence_lengths = rng.integers(low, high + 1, size=count)
    digits = rng.integers(0, 10, size=(count, steps))
    inputs = np.eye(10, dtype="float32")[digits]
    inputs[np.arange(steps)[None, :] >= sequence_lengths[:, None]] = 0.0
    return inputs, digits[:, k - 1].astype("int32")


def build_model(cell="lstm", layers=1, units=32):
    """(batch, steps, 10) one-hot digits, zero steps masked -> (batch, 10) digit probabilities."""
    inputs = keras.Input((None, 10), name="digits")
    masked = keras.layers.Masking(0.0)(inputs)
    features = apply_stack(recurrent_stack(cell, layers, units), masked)
    outputs = keras.layers.Dense(10, activation="softmax", name="digit")(features)
    return keras.Model(inputs, outputs, name="kth_digit")


def accuracy(model, inputs, targets):
    """Share of sequences whose predicted digit is the target."""
    return float(np.mean(np.argmax(model.predict(inputs, verbose=0, batch_size=256), -1) == targets))


def run(options):
    """Train on lengths k..max_length (default 3..10) and report accuracy on held-out
    sequences of the same lengths and of lengths max_length+1..2*max_length."""
    rng = seed_everything(options.seed)
    k, longest = options.pick("k", K), options.pick("max_length", MAX_TRAIN_LENGTH)
    if not 1 <= k <= longest:
        raise KerasseqError(f"need 1 <= k <= max length, got k={k} and max length {longest}")
    train_lengths, long_lengths = (k, longest), (longest + 1, 2 * longest)
    count = options.pick("samples", 6000)
    train_x, train_y = make_sequences(count, k, train_lengths, rng)
    test_x, test_y = make_sequences(1000, k, train_lengths, rng)
    long_x, long_y = make_sequences(1000, k, long_lengths, rng)
    model = build_model(options.pick("cell", "lstm"), options.pick("layers", 1), options.pick("units", 32))
    compile_model(model, "sparse_categorical_crossentropy", options.pick("learning_rate", 1e-2))
    model.fit(train_x, train_y, batch_size=64, epochs=options.pick("epochs", 12), verbose=options.verbose, callbacks=options.callbacks)
    return TaskResult("kth-digit", model, {
        "accuracy": accuracy(model, test_x, test_y),
        "long_accuracy": accuracy(model, long_x, long_y),
        "baseline": 0.1,
    }, {"k": k, "train_lengths": train_lengths, "long_lengths": long_lengths})

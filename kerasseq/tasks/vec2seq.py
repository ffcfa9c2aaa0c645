"""One-to-many: a single vector in, a sequence out -- a number, one-hot, to its spelled-out word.

The vector is repeated once per output step (``RepeatVector``) so every step of the
recurrent stack sees it; each step emits one character of ``num2words(n)`` ("7" ->
"seven"), padded with an end symbol. The domain is 0..N-1 (N = 10 by default), and the
model is scored on all of it.
"""

import keras
import numpy as np

from kerasseq.tasks.common import TaskResult, apply_stack, compile_model, recurrent_stack, seed_everything
from kerasseq.tasks.seq2seq import number_words

END = "."


def make_pairs(count):
    """(inputs (count, count) float32 one-hot numbers, words: list of str, characters: list
    with END first, targets (count, longest + 1) int32 character ids, END-padded)."""
    words = [" ".join(number_words(n)) for n in range(count)]
    characters = [END] + sorted(set("".join(words)))
    length = max(map(len, words)) + 1
    targets = np.array([[characters.index(c) for c in word.ljust(length, END)] for word in words], dtype="int32")
    return np.eye(count, dtype="float32"), words, characters, targets


def build_model(input_size, steps, character_count, cell="lstm", layers=1, units=64):
    """(batch, input_size) vector -> (batch, steps, character_count) character logits."""
    inputs = keras.Input((input_size,), name="vector")
    repeated = keras.layers.RepeatVector(steps, name="repeat")(inputs)
    features = apply_stack(recurrent_stack(cell, layers, units, return_sequences=True), repeated)
    return keras.Model(inputs, keras.layers.Dense(character_count, name="character")(features), name="vec2seq")


def spell(characters, logits):
    """(steps, characters) logits -> the word up to the first END."""
    return "".join(characters[i] for i in np.argmax(logits, axis=-1)).split(END)[0]


def run(options):
    """Learn to spell 0..N-1 (N = ``--samples``, default 10); report the share spelled exactly."""
    seed_everything(options.seed)
    inputs, words, characters, targets = make_pairs(options.pick("samples", 10))
    model = build_model(len(inputs), targets.shape[1], len(characters), options.pick("cell", "lstm"),
                        options.pick("layers", 1), options.pick("units", 64))
    compile_model(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  options.pick("learning_rate", 1e-2))
    model.fit(inputs, targets, batch_size=len(inputs), epochs=options.pick("epochs", 150), verbose=options.verbose, callbacks=options.callbacks)
    spelled = [spell(characters, logits) for logits in model.predict(inputs, verbose=0)]
    return TaskResult("vec2seq", model, {"exact": float(np.mean([s == w for s, w in zip(spelled, words)]))},
                      {"domain": len(words), "examples": list(zip(range(len(words)), spelled))[:10]})

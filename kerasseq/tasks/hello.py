"""Many-to-many character model: the "hihell" -> "ihello" lesson, for any short text.

The model reads ``text[:-1]`` and learns to emit ``text[1:]``, one character ahead. Two
input variants: ``onehot`` (each character a fixed one-hot vector) and ``embedding`` (a
learned vector of size 10). The same trained layers run either over the whole sequence at
once or one step at a time with the recurrent state carried between calls
(:class:`StepRunner`); both give the same outputs.
"""

import keras
import numpy as np

from kerasseq.errors import KerasseqError
from kerasseq.tasks.common import TaskResult, apply_stack, compile_model, recurrent_stack, seed_everything

DEFAULT_TEXT = "hihello"
VARIANTS = ("onehot", "embedding")
EMBEDDING_SIZE = 10


def encode_text(text):
    """``text`` -> (characters: sorted list, inputs (1, len-1) int32, targets (1, len-1) int32)."""
    if len(text) < 2:
        raise KerasseqError(f"--text needs at least 2 characters to predict one from another, got {text!r}")
    characters = sorted(set(text))
    ids = np.array([characters.index(char) for char in text], dtype="int32")
    return characters, ids[None, :-1], ids[None, 1:]


def build_model(vocabulary_size, variant="onehot", cell="rnn", layers=1, units=None):
    """(batch, steps) character ids -> (batch, steps, vocabulary_size) logits of the next character.

    ``onehot`` maps ids through a frozen identity embedding, ``embedding`` through a learned
    one of size 10. ``units`` defaults to the vocabulary size, as in the lesson.
    """
    if variant not in VARIANTS:
        raise KerasseqError(f"unknown hello variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    inputs = keras.Input((None,), dtype="int32", name="characters")
    if variant == "onehot":
        vectors = keras.layers.Embedding(vocabulary_size, vocabulary_size, embeddings_initializer="identity",
                                         trainable=False, name="embedding")(inputs)
    else:
        vectors = keras.layers.Embedding(vocabulary_size, EMBEDDING_SIZE, name="embedding")(inputs)
    stack = recurrent_stack(cell, layers, units or vocabulary_size, return_sequences=True)
    logits = keras.layers.Dense(vocabulary_size, name="logits")(apply_stack(stack, vectors))
    return keras.Model(inputs, logits, name=f"hello_{variant}")


class StepRunner:
    """Runs a model from :func:`build_model` one character at a time, carrying each recurrent
    layer's state from call to call, as the lesson's loop does."""

    def __init__(self, model):
        self.embedding = model.get_layer("embedding")
        self.recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
        self.logits = model.get_layer("logits")
        self.states = None

    def reset(self, batch_size=1):
        """Zero every layer's state, as at the start of a sequence."""
        self.states = [
            [keras.ops.zeros((batch_size, size)) for size in _state_sizes(layer.cell)] for layer in self.recurrent
        ]

    def step(self, character_ids):
        """(batch,) int ids of this step's characters -> (batch, vocabulary) logits as NumPy."""
        if self.states is None:
            self.reset(len(character_ids))
        vectors = self.embedding(keras.ops.convert_to_tensor(np.asarray(character_ids, dtype="int32")))
        for index, layer in enumerate(self.recurrent):
            vectors, new_states = layer.cell(vectors, self.states[index])
            self.states[index] = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        return keras.ops.convert_to_numpy(self.logits(vectors))

    def run(self, sequence_ids):
        """(batch, steps) ids -> (batch, steps, vocabulary) logits, from a fresh state."""
        sequence_ids = np.asarray(sequence_ids)
        self.reset(len(sequence_ids))
        return np.stack([self.step(sequence_ids[:, step]) for step in range(sequence_ids.shape[1])], axis=1)


def _state_sizes(cell):
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def decode(characters, logits):
    """(steps, vocabulary) logits -> the string of the most likely characters."""
    return "".join(characters[index] for index in np.argmax(logits, axis=-1))


def run(options):
    """Learn ``--text`` (default "hihello") with Adam lr 0.1 for 100 full-sequence steps;
    report whether the whole-sequence and the step-by-step outputs spell the target."""
    seed_everything(options.seed)
    text = options.pick("text", DEFAULT_TEXT)
    characters, inputs, targets = encode_text(text)
    variant = options.pick("problem", "onehot")
    model = build_model(len(characters), variant, options.pick("cell", "rnn"), options.pick("layers", 1), options.units)
    compile_model(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  options.pick("learning_rate", 0.1))
    model.fit(inputs, targets, epochs=options.pick("epochs", 100), verbose=options.verbose, callbacks=options.callbacks)
    target = text[1:]
    whole = decode(characters, model.predict(inputs, verbose=0)[0])
    stepwise = decode(characters, StepRunner(model).run(inputs)[0])
    return TaskResult("hello", model, {"exact": float(whole == target), "exact_stepwise": float(stepwise == target)},
                      {"input": text[:-1], "target": target, "predicted": whole, "predicted_stepwise": stepwise,
                       "variant": variant})

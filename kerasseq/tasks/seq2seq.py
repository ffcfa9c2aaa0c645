"""Encoder-decoder: read the whole input, then write the output one token at a time.

The encoder's final recurrent states start the decoder (layer by layer when stacked). In
training the decoder reads the true previous token (teacher forcing); at inference it reads
its own previous prediction (greedy decoding) until it emits the end token. Two problems:
``numbers``, number words to digits ("five hundred and fifteen" -> "515", 0-999, words from
``num2words``), and ``reverse``, a random letter string written backwards. Held-out inputs
are never seen in training: for ``numbers`` 100 numbers are held out, drawn from those
whose words combine (21-999 but not multiples of 10); each of 0-20 and the round tens and
hundreds has a form of its own, so holding one out would test guessing, not combining.
"""

import keras
import numpy as np
from num2words import num2words

from kerasseq.errors import KerasseqError
from kerasseq.tasks.classifier import Vocabulary
from kerasseq.tasks.common import TaskResult, compile_model, recurrent_stack, seed_everything

PROBLEMS = ("numbers", "reverse")
#: Decoder vocabulary ids before the output characters.
PAD, START, END = 0, 1, 2
REVERSE_LETTERS = "abcdefghij"
REVERSE_LENGTHS = (2, 6)
EMBEDDING_SIZE = 32


def number_words(number):
    """``515`` -> ``["five", "hundred", "and", "fifteen"]`` (English words from num2words)."""
    return num2words(number).replace("-", " ").replace(",", "").split()


def composed_numbers():
    """The numbers whose words combine others (21-999, not multiples of 10), as an array:
    the ones that may be held out while every word still appears in training."""
    return np.array([n for n in range(21, 1000) if n % 10])


def make_pairs(problem, rng, count=None):
    """(sources: list of token lists, targets: list of str, held-out candidates: array of
    indices) for ``problem``.

    ``numbers``: every number 0-999 once; ``reverse``: ``count`` random strings of 2-6 letters
    from a-j (one letter per token) and their reversals, any of which may be held out.
    """
    if problem == "numbers":
        return [number_words(n) for n in range(1000)], [str(n) for n in range(1000)], composed_numbers()
    if problem == "reverse":
        lengths = rng.integers(REVERSE_LENGTHS[0], REVERSE_LENGTHS[1] + 1, size=count)
        strings = ["".join(rng.choice(list(REVERSE_LETTERS), size=length)) for length in lengths]
        return [list(s) for s in strings], [s[::-1] for s in strings], np.arange(count)
    raise KerasseqError(f"unknown seq2seq problem {problem!r}; choose one of {', '.join(PROBLEMS)}")


class TargetCodec:
    """Output characters <-> decoder ids (0 pad, 1 start, 2 end, then the characters)."""

    def __init__(self, characters):
        self.characters = sorted(set(characters))
        self.ids = {char: index + 3 for index, char in enumerate(self.characters)}

    def __len__(self):
        return len(self.characters) + 3

    def encode(self, targets):
        """Strings -> (decoder inputs, decoder targets), each (count, longest + 1) int32:
        inputs start with START, targets end with END, both zero-padded."""
        length = max(map(len, targets)) + 1
        inputs = np.zeros((len(targets), length), dtype="int32")
        outputs = np.zeros((len(targets), length), dtype="int32")
        for row, target in enumerate(targets):
            ids = [self.ids[char] for char in target]
            inputs[row, :len(ids) + 1] = [START] + ids
            outputs[row, :len(ids) + 1] = ids + [END]
        return inputs, outputs

    def decode(self, ids):
        """Decoder ids -> the string up to the first END (or the end)."""
        chars = []
        for index in ids:
            if index == END:
                break
            if index > END:
                chars.append(self.characters[index - 3])
        return "".join(chars)


def build_model(source_size, target_size, cell="lstm", layers=1, units=128):
    """Training model: [(batch, source steps) source ids, (batch, target steps) decoder input
    ids] -> (batch, target steps, target_size) logits. Id 0 is padding on both sides."""
    source = keras.Input((None,), dtype="int32", name="source")
    previous = keras.Input((None,), dtype="int32", name="previous")
    outputs = keras.layers.Embedding(source_size, EMBEDDING_SIZE, mask_zero=True, name="encoder_embedding")(source)
    states = []
    for layer in recurrent_stack(cell, layers, units, return_sequences=True, return_state=True, name="encoder_rnn"):
        outputs, *layer_states = layer(outputs)
        states.append(layer_states)
    outputs = keras.layers.Embedding(target_size, EMBEDDING_SIZE, mask_zero=True, name="decoder_embedding")(previous)
    for layer, layer_states in zip(recurrent_stack(cell, layers, units, return_sequences=True, return_state=True,
                                                   name="decoder_rnn"), states):
        outputs = layer(outputs, initial_state=layer_states)[0]
    logits = keras.layers.Dense(target_size, name="decoder_logits")(outputs)
    return keras.Model([source, previous], logits, name="encoder_decoder")


def _layers(model, prefix):
    return sorted((layer for layer in model.layers if layer.name.startswith(prefix)), key=lambda layer: layer.name)


def greedy_decode(model, source_ids, max_length):
    """Run a trained (or loaded) :func:`build_model` model greedily: (batch, source steps)
    ids -> (batch, max_length) decoder ids, each step fed the previous step's argmax."""
    encoder_embedding = model.get_layer("encoder_embedding")
    decoder_embedding = model.get_layer("decoder_embedding")
    logits_layer = model.get_layer("decoder_logits")
    source = keras.ops.convert_to_tensor(np.asarray(source_ids, dtype="int32"))
    outputs, mask = encoder_embedding(source), encoder_embedding.compute_mask(source)
    states = []
    for layer in _layers(model, "encoder_rnn"):
        outputs, *layer_states = layer(outputs, mask=mask)
        states.append(layer_states)
    decoder_layers = _layers(model, "decoder_rnn")
    tokens = np.full((len(source_ids), 1), START, dtype="int32")
    chosen = []
    for _ in range(max_length):
        outputs = decoder_embedding(keras.ops.convert_to_tensor(tokens))
        for index, layer in enumerate(decoder_layers):
            outputs, *states[index] = layer(outputs, initial_state=states[index])
        tokens = np.argmax(keras.ops.convert_to_numpy(logits_layer(outputs)), axis=-1).astype("int32")
        chosen.append(tokens[:, 0])
    return np.stack(chosen, axis=1)


def exact_share(model, codec, source_ids, targets):
    """Share of held-out inputs whose greedy output equals the target string exactly."""
    decoded = greedy_decode(model, source_ids, max(map(len, targets)) + 1)
    return float(np.mean([codec.decode(ids) == target for ids, target in zip(decoded, targets)]))


def run(options):
    """Train with teacher forcing on 90% of the pairs; report exact greedy outputs on the
    held-out 10%."""
    rng = seed_everything(options.seed)
    problem = options.pick("problem", "numbers")
    sources, targets, candidates = make_pairs(problem, rng, options.pick("samples", 12000))
    held = rng.choice(candidates, size=max(1, len(sources) // 10), replace=False)
    train = np.setdiff1d(np.arange(len(sources)), held)
    source_vocabulary = Vocabulary([sources[i] for i in train])
    codec = TargetCodec("".join(targets))
    source_length = max(map(len, sources))
    train_sources = source_vocabulary.encode([sources[i] for i in train], source_length)
    decoder_inputs, decoder_targets = codec.encode([targets[i] for i in train])
    model = build_model(len(source_vocabulary), len(codec), options.pick("cell", "lstm"), options.pick("layers", 1),
                        options.pick("units", 128))
    compile_model(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD),
                  options.pick("learning_rate", 3e-3))
    model.fit([train_sources, decoder_inputs], decoder_targets, batch_size=32,
              epochs=options.pick("epochs", 40 if problem == "numbers" else 10), verbose=options.verbose,
              callbacks=options.callbacks)
    held_sources = source_vocabulary.encode([sources[i] for i in held], source_length)
    held_targets = [targets[i] for i in held]
    examples = [(" ".join(sources[i]), codec.decode(ids)) for i, ids in
                zip(held[:5], greedy_decode(model, held_sources[:5], max(map(len, held_targets)) + 1))]
    return TaskResult("seq2seq", model, {"exact": exact_share(model, codec, held_sources, held_targets)},
                      {"problem": problem, "train_pairs": len(train), "held_out_pairs": len(held), "examples": examples})

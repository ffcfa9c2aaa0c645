"""Many-to-one sequence classification shared by the ``names`` and ``sentiment`` tasks.

Tokens (characters of a name, words of a phrase) become ids through a :class:`Vocabulary`
(0 is padding, 1 an unknown token), an embedding with ``mask_zero`` feeds the recurrent
stack, and the last step's output picks the class.
"""

import collections
import os

import keras
import numpy as np

from kerasseq.tasks.common import TaskResult, apply_stack, compile_model, recurrent_stack, split_indices

PAD, UNKNOWN = 0, 1


class Vocabulary:
    """Maps tokens to ids 2..N (0 padding, 1 unknown), most frequent first, ties by token."""

    def __init__(self, token_lists, min_count=1):
        counts = collections.Counter(token for tokens in token_lists for token in tokens)
        ranked = sorted((token for token, count in counts.items() if count >= min_count),
                        key=lambda token: (-counts[token], token))
        self.ids = {token: index + 2 for index, token in enumerate(ranked)}

    def __len__(self):
        return len(self.ids) + 2

    def encode(self, token_lists, length=None):
        """Token lists -> (count, length) int32 ids, zero-padded at the end (or cut to ``length``)."""
        length = length or max(1, max(map(len, token_lists)))
        ids = np.zeros((len(token_lists), length), dtype="int32")
        for row, tokens in enumerate(token_lists):
            encoded = [self.ids.get(token, UNKNOWN) for token in tokens[:length]]
            ids[row, :len(encoded)] = encoded
        return ids


def build_classifier(vocabulary_size, class_count, cell="lstm", layers=1, units=64, embedding_size=32):
    """(batch, steps) token ids, 0 = padding -> (batch, class_count) class probabilities."""
    inputs = keras.Input((None,), dtype="int32", name="tokens")
    embedding = keras.layers.Embedding(vocabulary_size, embedding_size, mask_zero=True, name="embedding")
    vectors = embedding(inputs)
    features = apply_stack(recurrent_stack(cell, layers, units), vectors, mask=embedding.compute_mask(inputs))
    outputs = keras.layers.Dense(class_count, activation="softmax", name="class")(features)
    return keras.Model(inputs, outputs, name="sequence_classifier")


def confusion_matrix(targets, predictions, class_count):
    """(count,) true and predicted class ids -> (class_count, class_count) counts, rows true."""
    matrix = np.zeros((class_count, class_count), dtype="int64")
    np.add.at(matrix, (targets, predictions), 1)
    return matrix


def plot_confusion(matrix, class_names, png_path, title):
    """Draw a confusion matrix (rows: true class, normalised per row) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4, 0.5 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            axes.text(column, row, str(count), ha="center", va="center", fontsize=8,
                      color="white" if shares[row, column] > 0.5 else "black")
    axes.set(xlabel="predicted", ylabel="true", title=title)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)


def train_classifier(task, token_lists, labels, class_names, options, rng, defaults, held_out_share=0.2):
    """Split, build the vocabulary on the training part, train, and score the held-out part.

    ``token_lists``: list of token lists; ``labels``: (count,) int class ids.
    ``defaults``: the task's dict of ``units``, ``epochs``, ``learning_rate``, ``batch_size``,
    ``max_length``. Draws the held-out confusion matrix as ``confusion_matrix.png`` in
    ``options.out`` when set. Returns a ``TaskResult`` named ``task`` whose details hold the
    confusion matrix and vocabulary size.
    """
    labels = np.asarray(labels, dtype="int32")
    train, held = split_indices(len(labels), held_out_share, rng)
    vocabulary = Vocabulary([token_lists[i] for i in train])
    length = min(defaults["max_length"], max(map(len, token_lists)))
    train_x = vocabulary.encode([token_lists[i] for i in train], length)
    held_x = vocabulary.encode([token_lists[i] for i in held], length)
    model = build_classifier(len(vocabulary), len(class_names), options.pick("cell", "lstm"), options.pick("layers", 1),
                             options.pick("units", defaults["units"]))
    compile_model(model, "sparse_categorical_crossentropy", options.pick("learning_rate", defaults["learning_rate"]))
    model.fit(train_x, labels[train], batch_size=defaults["batch_size"], epochs=options.pick("epochs", defaults["epochs"]),
              verbose=options.verbose, callbacks=options.callbacks)
    predictions = np.argmax(model.predict(held_x, verbose=0, batch_size=256), axis=-1)
    majority = np.bincount(labels[train], minlength=len(class_names)).argmax()
    matrix = confusion_matrix(labels[held], predictions, len(class_names))
    metrics = {"accuracy": float(np.mean(predictions == labels[held])),
               "majority_baseline": float(np.mean(labels[held] == majority))}
    details = {"classes": list(class_names), "confusion_matrix": matrix.tolist(), "vocabulary_size": len(vocabulary),
               "train_count": len(train), "held_out_count": len(held), "max_length": length}
    if options.out:
        os.makedirs(options.out, exist_ok=True)
        plot_confusion(matrix, class_names, os.path.join(options.out, "confusion_matrix.png"), f"{task}, held-out data")
    return TaskResult(task, model, metrics, details)

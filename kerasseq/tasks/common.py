"""What every RNN task model shares: the options, the recurrent stack, training and saving.

A task module provides ``run(options) -> TaskResult``; it builds its data and model with
the helpers here, so the cell choice (``rnn``, ``lstm``, ``gru``), stacking and seeding work
the same way in every task.
"""

import dataclasses
import json
import os

import keras
import numpy as np

from kerasseq.errors import KerasseqError

#: The three recurrent cells, by the name used on the command line.
CELLS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


@dataclasses.dataclass
class TaskOptions:
    """Options common to all tasks; ``None`` means the task's own default.

    ``data`` is a user file or folder for the tasks that read one (``names``,
    ``sentiment``, ``forecast``); ``text`` is the string the ``hello`` task learns;
    ``problem`` picks a task's variant (``hello``: onehot/embedding,
    ``seq2seq``: numbers/reverse); ``k`` and ``max_length`` set the ``kth-digit`` task;
    ``callbacks`` go to ``fit``.
    """

    cell: str | None = None
    layers: int | None = None
    units: int | None = None
    epochs: int | None = None
    seed: int = 0
    out: str | None = None
    data: str | None = None
    column: str | None = None
    text: str | None = None
    problem: str | None = None
    learning_rate: float | None = None
    samples: int | None = None
    k: int | None = None
    max_length: int | None = None
    verbose: int | str = "auto"
    callbacks: list = dataclasses.field(default_factory=list)

    def pick(self, name, default):
        """The option ``name`` if the user set it, else the task's ``default``."""
        value = getattr(self, name)
        return default if value is None else value


@dataclasses.dataclass
class TaskResult:
    """A trained task model and its numbers: ``metrics`` maps name -> value, the first
    item being the task's headline metric."""

    task: str
    model: keras.Model
    metrics: dict
    details: dict = dataclasses.field(default_factory=dict)

    def line(self):
        """The parseable summary line, e.g. ``kth-digit accuracy=0.9950 baseline=0.1000``."""
        return " ".join([self.task] + [f"{name}={_format(value)}" for name, value in self.metrics.items()])


def _format(value):
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def seed_everything(seed):
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``); returns a
    ``numpy.random.Generator`` for the task's data."""
    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def recurrent_stack(cell, layers, units, return_sequences=False, return_state=False, name="rnn"):
    """``layers`` recurrent layers of ``units`` each, of kind ``cell`` (rnn/lstm/gru).

    Every layer but the last returns its whole sequence so the next one can read it; the
    last returns a sequence only if ``return_sequences``. With ``return_state`` every layer
    also returns its final state (for encoder-decoder models). Returns the list of layers.
    """
    if cell not in CELLS:
        raise KerasseqError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    if layers < 1 or units < 1:
        raise KerasseqError(f"need at least one layer and one unit, got layers={layers} units={units}")
    return [
        CELLS[cell](units, return_sequences=return_sequences or index < layers - 1, return_state=return_state,
                    name=f"{name}_{index}")
        for index in range(layers)
    ]


def apply_stack(stack, inputs, mask=None):
    """Run ``inputs`` (batch, steps, features) through the layers of :func:`recurrent_stack`."""
    outputs = inputs
    for layer in stack:
        outputs = layer(outputs, mask=mask) if mask is not None else layer(outputs)
    return outputs


def compile_model(model, loss, learning_rate):
    """Adam at ``learning_rate`` (a float or a Keras schedule) with ``loss``; returns the model."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    return model


def save_result(result, out):
    """Write ``model.keras`` and ``summary.json`` (the metrics and details) into ``out``."""
    if not out:
        return
    os.makedirs(out, exist_ok=True)
    result.model.save(os.path.join(out, "model.keras"))
    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump({"task": result.task, "metrics": result.metrics, "details": result.details}, handle, indent=2)


def split_indices(count, share, rng):
    """Shuffle ``range(count)`` and cut it -> (train indices, held-out indices); the
    held-out part holds ``share`` of the items, at least one."""
    order = rng.permutation(count)
    held = max(1, int(round(count * share)))
    return order[held:], order[:held]

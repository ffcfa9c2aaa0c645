"""Resumable training: the whole training state, committed atomically after each epoch.

Keras's ``BackupAndRestore`` keeps the weights and the optimizer but not the dropout
random state, the callbacks' counters or the data order, and it overwrites its files in
place, so a kill at the wrong moment leaves a broken or mismatched backup. Here each
sound epoch (every batch run, finite loss) is written to ``epoch-NNNN.tmp/`` and renamed
to ``epoch-NNNN/``: the rename is the commit, so a kill at any instant leaves the last
committed epoch intact, and resuming from it replays the rest of the run exactly (the
dropout random state included: the seed generators' variables and, on PyTorch, the
global generator that Keras's PyTorch dropout draws from).
"""

import json
import os
import shutil

import keras
import numpy as np

WEIGHTS_FILE = "training.weights.h5"
STATE_FILE = "state.json"
PREFIX = "epoch-"


class ResumableState(keras.callbacks.Callback):
    """Commits and restores a run's state in ``folder``.

    ``data`` is the training :class:`~kerasseq.data.batches.WordImageBatches` (its epoch sets
    the shuffle order); ``tracked`` maps a name to ``(callback, attribute names)`` whose
    values are saved with each epoch and put back after the callbacks reset themselves in
    ``on_train_begin`` (so this callback goes last in the list). ``guard`` is the
    :class:`~kerasseq.training.callbacks.EpochGuard` that says whether an epoch may be committed.
    """

    def __init__(self, folder, data, tracked, guard):
        super().__init__()
        self.folder = folder
        self.data = data
        self.tracked = tracked
        self.guard = guard
        self._restored = {}
        self._torch_random_state = None

    def committed_epochs(self):
        """The number of epochs of the newest commit in ``folder`` (0 when none)."""
        if not os.path.isdir(self.folder):
            return 0
        epochs = [int(name[len(PREFIX):]) for name in os.listdir(self.folder)
                  if name.startswith(PREFIX) and name[len(PREFIX):].isdigit()]
        return max(epochs, default=0)

    def restore(self, model):
        """Load the newest commit into ``model`` (weights, optimizer, random state) and the
        data order; returns the number of epochs already done, the ``initial_epoch`` for fit."""
        epochs = self.committed_epochs()
        if not epochs:
            return 0
        commit = os.path.join(self.folder, f"{PREFIX}{epochs:04d}")
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(commit, WEIGHTS_FILE))
        with open(os.path.join(commit, STATE_FILE)) as handle:
            state = json.load(handle)
        for variable, value in zip(_random_state(model), state["random_state"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        self._torch_random_state = state.get("torch_random_state")
        self._restored = state["callbacks"]
        self.data.set_epoch(epochs)
        return epochs

    def on_train_begin(self, logs=None):
        for name, values in self._restored.items():
            if name not in self.tracked:  # saved by a run that tracked other callbacks: start those afresh
                continue
            callback, _ = self.tracked[name]
            for attribute, value in values.items():
                setattr(callback, attribute, value)

    def on_epoch_begin(self, epoch, logs=None):
        # Set here, not before fit: Keras's set-up at the start of fit draws from PyTorch's
        # generator, which an uninterrupted run did long before this epoch.
        if self._torch_random_state is not None:
            import torch

            torch.set_rng_state(torch.tensor(self._torch_random_state, dtype=torch.uint8))
            self._torch_random_state = None

    def on_epoch_end(self, epoch, logs=None):
        if not self.guard.epoch_is_sound():
            return
        state = {
            "epoch": epoch + 1,
            "random_state": [keras.ops.convert_to_numpy(v).tolist() for v in _random_state(self.model)],
            "torch_random_state": _torch_random_state(),
            "callbacks": {name: {a: _plain(getattr(callback, a)) for a in attributes}
                          for name, (callback, attributes) in self.tracked.items()},
        }
        commit = os.path.join(self.folder, f"{PREFIX}{epoch + 1:04d}")
        partial = commit + ".tmp"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        self.model.save_weights(os.path.join(partial, WEIGHTS_FILE))
        with open(os.path.join(partial, STATE_FILE), "w") as handle:
            json.dump(state, handle)
        os.replace(partial, commit)
        for name in os.listdir(self.folder):
            if name.startswith(PREFIX) and name != os.path.basename(commit):
                shutil.rmtree(os.path.join(self.folder, name), ignore_errors=True)


def _random_state(model):
    """The model's variables that are not weights: the seed generators' states (dropout)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _torch_random_state():
    """PyTorch's global CPU generator state as a list of bytes (None on other backends):
    Keras's PyTorch dropout draws from it rather than from the layer's seed generator."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    return torch.get_rng_state().tolist()


def _plain(value):
    """A callback attribute as a JSON value (NumPy scalars become Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value

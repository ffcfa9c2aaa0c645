"""Training callbacks: recognition metrics per epoch, a guard against unsound epochs,
atomic best checkpoint, every epoch's model, time limit, Ctrl-C."""

import math
import os
import signal
import threading
import time

import keras
import numpy as np

from kerasseq import atomic
from kerasseq.ocr.decoding import greedy_decode
from kerasseq.ocr.inference import predict_probabilities
from kerasseq.ocr.metrics import character_error_rate, word_accuracy


class RecognitionMetrics(keras.callbacks.Callback):
    """Adds ``val_word_accuracy`` and ``val_cer`` (greedy decoding on up to ``samples``
    validation images) to each epoch's logs, before checkpointing and CSV logging see them."""

    def __init__(self, split, samples=1000):
        super().__init__()
        count = min(samples, len(split))
        shard_ids, local_ids = split.locate(np.arange(count))
        self.images, _ = split.gather(shard_ids, local_ids)
        self.texts = split.texts[:count]
        self.charset = split.charset

    def on_epoch_end(self, epoch, logs=None):
        readings = greedy_decode(predict_probabilities(self.model, self.images), self.charset)
        predicted = [r.text for r in readings]
        if logs is not None:
            logs["val_word_accuracy"] = word_accuracy(predicted, self.texts)
            logs["val_cer"] = character_error_rate(predicted, self.texts)
            print(f"\nepoch {epoch + 1}: val word accuracy {logs['val_word_accuracy']:.3f}, CER {logs['val_cer']:.3f}")


class EpochGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite, and tells the
    callbacks after it whether the epoch that just ended may be trusted.

    An epoch is sound when all its batches ran (not cut short by a time limit, Ctrl-C or
    a bad loss) with finite losses. ``failure`` is then ``None``, else a sentence naming
    the epoch and batch (both counted from 1) where the loss went bad.
    """

    def __init__(self):
        super().__init__()
        self.failure = None
        self.batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.failure is None:
            self.failure = f"the loss became {float(loss)} at epoch {self.epoch + 1}, batch {batch + 1}"
            self.model.stop_training = True

    def epoch_is_sound(self):
        """True when the epoch that just ended ran every batch with a finite loss."""
        return self.failure is None and self.batches == self.params.get("steps")


KEPT_MODELS = "kept_models"


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Saves the model to ``path`` at the end of a sound epoch (see :class:`EpochGuard`)
    that beats every earlier one on ``ranking``: (log name, "min" or "max") pairs compared
    in order, each later one breaking the ties of those before it. The save goes through
    a temporary file and a rename, so a crash mid-save never replaces a good model with a
    broken one.

    Each epoch's logs get ``kept_models``, the number of models kept so far: callbacks
    after this one that watch it (``mode="max"``) wait for a better kept model, whatever
    the ranking.
    """

    def __init__(self, path, guard, ranking=(("val_loss", "min"),)):
        super().__init__()
        self.path = path
        self.guard = guard
        self.ranking = tuple(ranking)
        self.best = [math.inf] * len(self.ranking)  # each value signed so that lower is better
        self.kept = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        values = [logs.get(name) for name, _ in self.ranking]
        if self.guard.epoch_is_sound() and all(v is not None and np.isfinite(v) for v in values):
            score = [float(v) if mode == "min" else -float(v) for v, (_, mode) in zip(values, self.ranking)]
            if score < self.best:
                with atomic.replacing(self.path, ".keras") as temporary:
                    self.model.save(temporary)
                self.best = score
                self.kept += 1
        logs[KEPT_MODELS] = self.kept


class EpochSnapshots(keras.callbacks.Callback):
    """Saves the model of every sound epoch (see :class:`EpochGuard`) as
    ``folder/epoch-NNNN.keras`` (NNNN counted from 1), each through a temporary file and a
    rename: the weights along a run, for averaging (:mod:`kerasseq.training.weight_averaging`)."""

    def __init__(self, folder, guard):
        super().__init__()
        self.folder = folder
        self.guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.epoch_is_sound():
            os.makedirs(self.folder, exist_ok=True)
            with atomic.replacing(os.path.join(self.folder, f"epoch-{epoch + 1:04d}.keras"), ".keras") as temporary:
                self.model.save(temporary)


class TimeLimit(keras.callbacks.Callback):
    """Stops training once ``minutes`` have passed (checked after every batch)."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds = minutes * 60.0
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True


class CpuClock(keras.callbacks.Callback):
    """Logs ``cpu_hours`` at every epoch's end: this process's CPU time (all its threads,
    data loading included) since training began, plus ``hours_before`` from the run it
    resumes, so a learning curve can be drawn against CPU-hours whatever else the machine
    is doing."""

    def __init__(self, hours_before=0.0):
        super().__init__()
        self.hours_before = hours_before
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["cpu_hours"] = self.hours_before + (time.process_time() - self.start) / 3600.0


class StopOnInterrupt(keras.callbacks.Callback):
    """Turns the first Ctrl-C (SIGINT) during ``fit`` into a stop at the end of the
    current batch; ``interrupted`` tells the caller to raise ``KeyboardInterrupt`` after
    ``fit`` returns. A second Ctrl-C interrupts at once.

    Needed because Keras 3.15 converts each batch's logs inside a bare ``except:``
    (``pythonify_logs``), which swallows a ``KeyboardInterrupt`` arriving while the main
    thread waits for the batch: most presses of Ctrl-C were silently ignored.
    """

    def __init__(self):
        super().__init__()
        self.interrupted = False
        self._previous = None

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum, frame):
        self.interrupted = True
        # ``_model``, not ``model``: on JAX that property refills the variables from the
        # trainer's last stored state, which mid-step can be a predict's, without the
        # optimizer's variables, leaving those empty.
        self._model.stop_training = True
        signal.signal(signal.SIGINT, self._previous)

    def on_train_end(self, logs=None):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

"""Training a recogniser on dataset folders: the logic behind ``scripts/train_crnn.py``."""

import csv
import dataclasses
import json
import os
import shutil

import keras

from kerasseq import atomic
from kerasseq.data.batches import WordImageBatches
from kerasseq.data.dataset import open_split
from kerasseq.data.font_record import dataset_fonts, write_font_record
from kerasseq.errors import DataError, TrainingError
from kerasseq.ocr.ctc_loss import CTCLoss, check_labels
from kerasseq.ocr.recognizer import build_crnn
from kerasseq.training.callbacks import KEPT_MODELS, AtomicBestCheckpoint, CpuClock, EpochGuard, EpochSnapshots, RecognitionMetrics, StopOnInterrupt, TimeLimit
from kerasseq.training.distribute import data_parallel, single_device
from kerasseq.training.fine_tuning import fine_tuned_record, load_initial_weights
from kerasseq.training.resume import ResumableState

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"
BACKUP_DIR = "backup"
EPOCHS_DIR = "epochs"


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run (the ``train_crnn.py`` options)."""

    preset: str = "small"
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    max_minutes: float = 0.0
    patience: int = 5
    seed: int = 0
    augment: bool = False
    resume: bool = False
    clipnorm: float = 0.0
    metric_samples: int = 1000
    distribute: bool = False
    precision: str = "float32"
    #: images per epoch (0: one pass over the training split); see WordImageBatches
    epoch_images: int = 0
    #: a saved recogniser of the same preset and charset to start from ("": fresh weights);
    #: see :mod:`kerasseq.training.fine_tuning`
    init_from: str = ""
    #: also keep every epoch's model in ``out/epochs/`` (for weight averaging)
    keep_epochs: bool = False


def compile_recognizer(model, learning_rate=1e-3, clipnorm=0.0):
    """Compile ``model`` with Adam and :class:`CTCLoss` (clipnorm 0: no clipping)."""
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=clipnorm or None)
    model.compile(optimizer=optimizer, loss=CTCLoss())
    return model


def _prepare_run_dir(out, resume):
    backup = os.path.join(out, BACKUP_DIR)
    if os.path.isdir(backup) and not resume:
        raise DataError(f"{out} holds an unfinished run; pass --resume to continue it, or choose another --out")
    if resume and not os.path.isdir(backup):
        raise DataError(f"nothing to resume in {out} (no {BACKUP_DIR}/ folder from an interrupted run)")
    os.makedirs(out, exist_ok=True)
    return backup


def _trim_history(history_path, epochs):
    """Keep the first ``epochs`` rows of a CSV history: rows logged after the last
    committed epoch belong to work that a resumed run does again."""
    if not os.path.exists(history_path):
        return
    with open(history_path, newline="") as handle:
        lines = handle.readlines()
    with atomic.replacing_file(history_path, "w", newline="") as handle:
        handle.writelines(lines[: 1 + epochs] if epochs else [])


def best_model_callbacks(model_path, guard, has_val, patience):
    """(checkpoint, early stopping, learning-rate schedule) of a training run, in that
    order in the callback list.

    The checkpoint keeps the best reader, the loss breaking ties (validation word
    accuracy, then validation loss; the training loss without validation): late in
    training the validation loss rises with confident mistakes while word accuracy still
    improves, and at the start no word is read yet while the loss falls. Early stopping
    (after ``patience`` epochs) and the halving of the learning rate (after half as many)
    wait on the kept model, so neither acts while it still improves.
    """
    loss = "val_loss" if has_val else "loss"
    ranking = (("val_word_accuracy", "max"), (loss, "min")) if has_val else ((loss, "min"),)
    checkpoint = AtomicBestCheckpoint(model_path, guard, ranking)
    early_stopping = keras.callbacks.EarlyStopping(monitor=KEPT_MODELS, mode="max", patience=patience)
    reduce_rate = keras.callbacks.ReduceLROnPlateau(monitor=KEPT_MODELS, mode="max", factor=0.5, patience=max(1, patience // 2))
    return checkpoint, early_stopping, reduce_rate


def train_recognizer(data, out, config=None, verbose=1):
    """Train a recogniser on dataset folder(s) ``data``; writes ``out/model.keras`` (best
    validation word accuracy, ties to the lower loss; lowest loss without a validation
    split), ``history.csv`` and ``training_curves.png`` (with ``config.keep_epochs``, every
    sound epoch's model as ``epochs/epoch-NNNN.keras`` too), and, where the datasets list the
    fonts of their images, the model's font record (``model.fonts.txt``: the training
    split's fonts, ``model.heldout.txt``: the validation split's; see
    :mod:`kerasseq.data.font_record`). Returns a summary dict.

    After every complete epoch the whole state is committed to ``out/backup/`` (see
    :mod:`kerasseq.training.resume`); a run cut short (``--max-minutes``, Ctrl-C, ``kill -9``)
    keeps it, and ``config.resume`` continues from it to the same result as an
    uninterrupted run. A loss that turns NaN or infinite stops the run with a
    :class:`TrainingError` naming the epoch and batch; the checkpoint and the backup keep
    the last good epoch. ``config.init_from`` starts from a saved recogniser's weights
    (see :mod:`kerasseq.training.fine_tuning`). ``config.distribute`` trains data-parallel over every local
    device (see :mod:`kerasseq.training.distribute`).
    """
    config = config or TrainConfig()
    train_split = open_split(data, "train")
    val_split = open_split(data, "val")
    if len(train_split) == 0:
        raise DataError(f"the training split of {data} is empty")
    backup = _prepare_run_dir(out, config.resume)
    fonts = dataset_fonts(data)
    if config.init_from:
        fonts = fine_tuned_record(fonts, config.init_from)
    if fonts:
        write_font_record(os.path.join(out, MODEL_FILE), *fonts)
    parallel = data_parallel() if config.distribute else single_device()
    with parallel.scope():
        keras.utils.set_random_seed(config.seed)
        model = build_crnn(config.preset, charset=train_split.charset, preprocess_mode=train_split.mode,
                           synchronized_batchnorm=parallel.synchronized_batchnorm, precision=config.precision)
        for split in (train_split, val_split):
            for shard in split.shards:
                check_labels(shard.labels, model.time_steps)
        if config.init_from and not config.resume:  # a resumed run restores its own weights
            load_initial_weights(model, config.init_from)
        compile_recognizer(model, config.learning_rate, config.clipnorm)
        train_batches = WordImageBatches(train_split, config.batch_size, shuffle=True, augment_images=config.augment, seed=config.seed,
                                         epoch_images=config.epoch_images)
        has_val = len(val_split) > 0
        val_batches = WordImageBatches(val_split, config.batch_size) if has_val else None
        model_path = os.path.join(out, MODEL_FILE)
        history_path = os.path.join(out, HISTORY_FILE)
        guard = EpochGuard()
        checkpoint, early_stopping, reduce_rate = best_model_callbacks(model_path, guard, has_val, config.patience)
        # Names say what each state means, so a resumed run started by an older version,
        # which watched other quantities, starts these afresh instead of misreading them.
        state = ResumableState(backup, train_batches, guard=guard, tracked={
            "checkpoint:" + ",".join(name for name, _ in checkpoint.ranking): (checkpoint, ("best", "kept")),
            f"early_stopping:{KEPT_MODELS}": (early_stopping, ("wait", "best", "best_epoch")),
            f"reduce_rate:{KEPT_MODELS}": (reduce_rate, ("wait", "best", "cooldown_counter")),
        })
        done = state.restore(model) if config.resume else 0
        _trim_history(history_path, done)
        history = _read_history(history_path) if os.path.exists(history_path) else []
        callbacks = [CpuClock(history[-1].get("cpu_hours", 0.0) if history else 0.0)]
        callbacks += [RecognitionMetrics(val_split, config.metric_samples)] if has_val else []
        interrupt = StopOnInterrupt()
        callbacks += [interrupt, guard, checkpoint, early_stopping, reduce_rate, keras.callbacks.CSVLogger(history_path, append=config.resume)]
        if config.keep_epochs:
            callbacks.append(EpochSnapshots(os.path.join(out, EPOCHS_DIR), guard))
        if config.max_minutes:
            callbacks.append(TimeLimit(config.max_minutes))
        callbacks.append(state)  # last: it commits what the callbacks before it did
        os.makedirs(backup, exist_ok=True)  # marks the run unfinished, so --resume works from any point
        # shuffle=False: the batches shuffle themselves, seeded by epoch; Keras's own batch
        # shuffling draws from an unseeded generator that a resumed run could not replay.
        model.fit(train_batches, validation_data=val_batches, epochs=config.epochs, initial_epoch=done, shuffle=False,
                  callbacks=callbacks, verbose=verbose)
    if interrupt.interrupted:
        raise KeyboardInterrupt
    if guard.failure:
        good = state.committed_epochs()
        kept = f"the backup keeps epoch {good}, the best model so far is in {model_path}" if good else "no epoch had finished"
        raise TrainingError(f"{guard.failure}; {kept}; rerun with --resume and --clipnorm (e.g. 5) or a lower --learning-rate")
    # Early stopping also counts an epoch cut short (time limit, Ctrl-C) as one without a
    # better model; only a stop at a committed epoch ends the run.
    stopped_early = early_stopping.stopped_epoch > 0 and state.committed_epochs() == early_stopping.stopped_epoch + 1
    finished = state.committed_epochs() >= config.epochs or stopped_early
    if finished:
        shutil.rmtree(backup, ignore_errors=True)
    if not os.path.exists(model_path):  # no epoch finished with a finite loss
        model.save(model_path)
    plot_history(history_path, os.path.join(out, CURVES_FILE))
    summary = {"model": model_path, "preset": config.preset, "train_images": len(train_split),
               "val_images": len(val_split), "finished": finished}
    summary.update(_final_row(history_path))
    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=1)
    return summary


def _number(text):
    """A CSV history cell -> float, or None where Keras's CSVLogger wrote nothing or 'NA'
    (a metric not logged that epoch, e.g. every validation column without a validation split)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _read_history(history_path):
    """Rows of a CSV history as {column: float}, columns without a number left out."""
    with open(history_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{key: value for key, value in ((k, _number(v)) for k, v in row.items()) if value is not None} for row in rows]


def _final_row(history_path):
    rows = _read_history(history_path)
    return {"epochs_run": len(rows), **{k: v for k, v in rows[-1].items() if k != "epoch"}} if rows else {}


def plot_history(history_path, png_path):
    """Draw loss curves (and validation word accuracy, when logged) from a CSV history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _read_history(history_path)
    if not rows:
        return
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))

    def plot(axes, key, label):
        points = [(epoch, row[key]) for epoch, row in enumerate(rows, 1) if key in row]
        if points:
            axes.plot(*zip(*points), label=label)
        return bool(points)

    for key in ("loss", "val_loss"):
        plot(loss_axes, key, key)
    loss_axes.set(xlabel="epoch", ylabel="CTC loss", yscale="log", title="loss")
    loss_axes.legend()
    if plot(accuracy_axes, "val_word_accuracy", "word accuracy") | plot(accuracy_axes, "val_cer", "CER"):
        accuracy_axes.legend()
    else:
        accuracy_axes.text(0.5, 0.5, "no validation split", ha="center", va="center")
    accuracy_axes.set(xlabel="epoch", title="validation", ylim=(0, 1))
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)

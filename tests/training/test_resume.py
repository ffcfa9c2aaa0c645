"""Training survives interruption: commits are atomic, a run killed with SIGKILL at any
point resumes to the uninterrupted result, and a NaN loss stops the run where it happened."""

import csv
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from kerasseq.errors import TrainingError
from kerasseq.ocr.predictor import load_recognizer
from kerasseq.training.callbacks import AtomicBestCheckpoint, EpochGuard, StopOnInterrupt, TimeLimit
from kerasseq.training.resume import ResumableState
from kerasseq.training.trainer import TrainConfig, train_recognizer
from tests.helpers import ROOT, call


class SumBatches(keras.utils.PyDataset):
    """4 batches of 8 rows: x = 3 copies of a number, y = their sum; the batch at
    ``nan_at`` (epoch, batch), both from 0, has NaN targets."""

    def __init__(self, nan_at=None):
        super().__init__()
        self.epoch = 0
        self.nan_at = nan_at

    def __len__(self):
        return 4

    def __getitem__(self, index):
        inputs = np.full((8, 3), index + 1.0, "float32")
        targets = inputs.sum(axis=1, keepdims=True)
        if (self.epoch, index) == self.nan_at:
            targets[:] = np.nan
        return inputs, targets

    def set_epoch(self, epoch):
        self.epoch = epoch


def sum_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


def fit_with_state(model, folder, data, epochs, *extra):
    """Fit ``model`` on ``data`` with the guard, a checkpoint and the state commits."""
    guard = EpochGuard()
    checkpoint = AtomicBestCheckpoint(os.path.join(folder, "best.keras"), guard, (("loss", "min"),))
    state = ResumableState(os.path.join(folder, "backup"), data, {"checkpoint": (checkpoint, ("best",))}, guard)
    follow_epoch = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: data.set_epoch(epoch))
    model.fit(data, epochs=epochs, shuffle=False, verbose=0, callbacks=[follow_epoch, guard, checkpoint, *extra, state])
    return guard, checkpoint, state


def test_a_half_written_commit_is_ignored_and_the_last_whole_one_restored(tmp_path):
    model = sum_model()
    _, _, state = fit_with_state(model, str(tmp_path), SumBatches(), epochs=2)
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-0002"]
    partial = tmp_path / "backup" / "epoch-0003.tmp"  # a kill while epoch 3 was being saved
    partial.mkdir()
    (partial / "training.weights.h5").write_bytes(b"\x89HDF\r\n half written")
    fresh = sum_model()
    data = SumBatches()
    assert ResumableState(str(tmp_path / "backup"), data, {}, EpochGuard()).restore(fresh) == 2
    assert data.epoch == 2
    for restored, saved in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(restored, saved)
    assert int(keras.ops.convert_to_numpy(fresh.optimizer.iterations)) == 8


def test_a_nan_loss_stops_at_its_epoch_and_batch_and_keeps_the_last_good_epoch(tmp_path):
    model = sum_model()
    guard, checkpoint, state = fit_with_state(model, str(tmp_path), SumBatches(nan_at=(1, 2)), epochs=5)
    assert guard.failure == "the loss became nan at epoch 2, batch 3"
    assert state.committed_epochs() == 1
    saved = keras.saving.load_model(str(tmp_path / "best.keras"))
    assert all(np.all(np.isfinite(w)) for w in saved.get_weights())
    assert np.all(np.isfinite(checkpoint.best))


def test_a_crash_while_saving_the_best_model_leaves_the_previous_one(tmp_path, monkeypatch):
    model = sum_model()
    _, checkpoint, _ = fit_with_state(model, str(tmp_path), SumBatches(), epochs=1)
    good = (tmp_path / "best.keras").read_bytes()

    def crash_mid_save(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(good[:100])
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", crash_mid_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.on_epoch_end(1, {"loss": checkpoint.best[0] / 2})
    assert (tmp_path / "best.keras").read_bytes() == good


class SoundGuard:
    """An :class:`EpochGuard` stand-in for which every epoch ran whole."""

    def epoch_is_sound(self):
        return True


def test_the_kept_model_is_the_best_reader_the_loss_breaking_ties(tmp_path, monkeypatch):
    path = tmp_path / "best.keras"
    checkpoint = AtomicBestCheckpoint(str(path), SoundGuard(), (("val_word_accuracy", "max"), ("val_loss", "min")))
    checkpoint.set_model(sum_model())
    monkeypatch.setattr(keras.Model, "save", lambda self, target, *a, **k: open(target, "w").write(str(epoch)))
    epochs = [(0.0, 9.0), (0.0, 5.0), (0.5, 6.0), (0.4, 1.0), (0.5, 7.0), (0.5, float("nan"))]
    kept, counts = [], []
    for epoch, (accuracy, loss) in enumerate(epochs):
        logs = {"val_word_accuracy": accuracy, "val_loss": loss}
        checkpoint.on_epoch_end(epoch, logs)
        kept.append(int(path.read_text()))
        counts.append(logs["kept_models"])
    # all-blank start: the lower loss wins; then accuracy, even at a higher loss; a NaN never
    assert kept == [0, 1, 2, 2, 2, 2]
    assert checkpoint.best == [-0.5, 6.0]
    assert counts == [1, 2, 3, 3, 3, 3]  # kept_models, what early stopping and the schedule watch


class ScriptedValidation(keras.callbacks.Callback):
    """Puts the next (word accuracy, loss) of ``script`` into each epoch's logs."""

    def __init__(self, script):
        super().__init__()
        self.script = script

    def on_epoch_end(self, epoch, logs=None):
        logs["val_word_accuracy"], logs["val_loss"] = self.script[epoch]


def test_stopping_and_the_rate_wait_on_the_kept_model_not_the_loss(tmp_path):
    from kerasseq.training.trainer import best_model_callbacks

    # accuracy rises for 5 epochs while the loss rises from the 2nd, then nothing improves
    script = [(0.1, 3.0), (0.2, 3.5), (0.3, 4.0), (0.4, 4.5), (0.5, 5.0)] + [(0.5, 6.0)] * 10
    model = sum_model()
    guard = EpochGuard()
    callbacks = best_model_callbacks(str(tmp_path / "best.keras"), guard, has_val=True, patience=4)
    history = model.fit(SumBatches(), epochs=len(script), verbose=0, shuffle=False,
                        callbacks=[ScriptedValidation(script), guard, *callbacks])
    rates = [round(float(rate), 6) for rate in history.history["learning_rate"]]
    assert len(rates) == 5 + 4  # a val_loss watch would have stopped after epoch 1 + 4
    # each epoch's logged rate is the one it trained with: halved after epochs 5 and 6 did not improve
    assert rates == [0.01] * 7 + [0.005] * 2


def test_a_state_saved_for_a_callback_no_longer_tracked_is_left_out(tmp_path):
    fit_with_state(sum_model(), str(tmp_path), SumBatches(), epochs=1)  # saved as "checkpoint"
    renamed = AtomicBestCheckpoint(str(tmp_path / "best.keras"), EpochGuard(), (("loss", "min"),))
    state = ResumableState(str(tmp_path / "backup"), SumBatches(), {"checkpoint:loss": (renamed, ("best",))}, EpochGuard())
    assert state.restore(sum_model()) == 1
    state.on_train_begin()
    assert renamed.best == [float("inf")]  # starts afresh, rather than failing the resume


@pytest.fixture
def ctrl_c_raises():
    """Python's own Ctrl-C handler for the test, whatever the runner inherited (``nohup``
    and background jobs start with Ctrl-C ignored, and StopOnInterrupt leaves that alone)."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


def test_ctrl_c_during_a_train_step_stops_with_the_whole_model_state(ctrl_c_raises):
    # On JAX the model's variables are emptied while a step runs and a callback's
    # ``self.model`` refills them from the last stored state: after a ``predict_on_batch``
    # (as the recognition metrics run) that state lacks the optimizer's variables.
    model = sum_model()
    model.fit(SumBatches(), epochs=1, verbose=0, shuffle=False)
    model.predict_on_batch(np.ones((8, 3), "float32"))
    train_step = model.train_function

    def pressed_mid_step(*args):
        os.kill(os.getpid(), signal.SIGINT)  # its handler runs before the step below
        return train_step(*args)

    model.train_function = pressed_mid_step
    interrupt = StopOnInterrupt()
    model.fit(SumBatches(), epochs=2, verbose=0, shuffle=False, callbacks=[interrupt])
    assert interrupt.interrupted and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4 + 1  # one more step, then the stop
    state = model.get_weights() + [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    assert all(np.all(np.isfinite(v)) for v in state)


def test_an_epoch_cut_short_by_the_time_limit_is_not_committed(tmp_path):
    _, _, state = fit_with_state(sum_model(), str(tmp_path), SumBatches(), 3, TimeLimit(0.0))
    assert state.committed_epochs() == 0
    assert not os.path.exists(tmp_path / "best.keras")


def test_a_diverging_run_names_the_epoch_and_batch(dataset, tmp_path):
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, batch \d+; no epoch had finished; rerun with"):
        train_recognizer(str(dataset), str(tmp_path / "run"), TrainConfig(epochs=2, batch_size=16, learning_rate=1e30),
                         verbose=0)
    assert os.path.isdir(tmp_path / "run" / "backup")


# --- real processes killed with SIGKILL --------------------------------------------------

TRAIN_ARGUMENTS = ["--epochs", "3", "--batch-size", "16", "--patience", "1", "--seed", "5"]


#: Runs train_crnn.py with one more callback, which touches ``MARKS/epoch<E>-batch<B>``
#: after each batch, so a test can kill the run a known number of batches into an epoch.
MARKING_BATCHES = """
import os, runpy, signal, sys
from kerasseq.training import callbacks

# a shell's background job (as CI may run the suite) starts with SIGINT ignored: take
# Ctrl-C back as in a terminal, here rather than in a fork of the multithreaded test process
signal.signal(signal.SIGINT, signal.default_int_handler)

marks = sys.argv.pop(1)
os.makedirs(marks, exist_ok=True)


class MarkingBatches(callbacks.StopOnInterrupt):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        open(os.path.join(marks, f"epoch{self.epoch}-batch{batch + 1}"), "w").close()


callbacks.StopOnInterrupt = MarkingBatches  # before train_crnn.py imports kerasseq.training.trainer
sys.argv = sys.argv[1:]  # train_crnn.py and its arguments
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def train(dataset, out, *extra, marks=None):
    script = os.path.join(ROOT, "scripts", "train_crnn.py")
    start = [sys.executable, "-c", MARKING_BATCHES, str(marks), script] if marks else [sys.executable, script]
    return [*start, "--data", str(dataset), "--out", str(out), *TRAIN_ARGUMENTS, *extra]


@pytest.fixture(scope="module")
def uninterrupted(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    subprocess.run(train(dataset, out), check=True, capture_output=True, timeout=600)
    return out


def history(run):
    with open(run / "history.csv", newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def run_until(command, mark, sent, errors):
    """Start ``command``, send it ``sent`` once ``mark`` (a file) exists -> its exit status.
    ``command`` takes Ctrl-C back itself (see MARKING_BATCHES)."""
    with open(errors, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 300
        while process.poll() is None and not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(sent)
        return process.wait(timeout=120)


#: one run interrupted again and again: where (a path in the run folder, or "marks/..." for a
#: batch mark), how, and the exit status; each stage resumes the one before it
KILLS = [("sigkill-3-batches-into-epoch-1", "marks/epoch0-batch3", signal.SIGKILL, -signal.SIGKILL),
         ("sigkill-after-epoch-1", "backup/epoch-0001", signal.SIGKILL, -signal.SIGKILL),
         ("sigkill-3-batches-into-epoch-2", "marks/epoch1-batch3", signal.SIGKILL, -signal.SIGKILL),
         ("ctrl-c-after-epoch-2", "backup/epoch-0002", signal.SIGINT, 130)]


@pytest.mark.slow
def test_training_killed_anywhere_or_out_of_time_resumes_to_the_uninterrupted_result(dataset, uninterrupted, tmp_path,
                                                                                     capsys):
    out = tmp_path / "run"
    for stage, (name, when, sent, status) in enumerate(KILLS):
        marks = tmp_path / f"marks{stage}"
        mark = marks / when.removeprefix("marks/") if when.startswith("marks/") else out / when
        resume = ("--resume",) if stage else ()
        returncode = run_until(train(dataset, out, *resume, marks=marks), mark, sent, tmp_path / "stderr.txt")
        assert returncode == status, f"{name}: {(tmp_path / 'stderr.txt').read_text()[-3000:]}"
        assert mark.exists(), name  # killed where the test meant to, not at the end of the run
        if stage == 0:
            code, _, err = call("train_crnn", train(dataset, out)[2:], capsys)
            assert code == 2 and "holds an unfinished run; pass --resume" in err
    # out of time a batch into epoch 3: the run says how to go on and keeps its backup
    stopped = subprocess.run(train(dataset, out, "--resume", "--max-minutes", "0.005"), capture_output=True, text=True,
                             timeout=600)
    assert stopped.returncode == 0 and "rerun with --resume" in stopped.stdout, stopped.stderr[-2000:]
    assert (out / "backup").is_dir()
    resumed = subprocess.run(train(dataset, out, "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0 and "rerun with --resume" not in resumed.stdout, resumed.stderr[-2000:]
    assert not (out / "backup").exists()
    assert_same_run(out, uninterrupted)


def assert_same_run(out, uninterrupted):
    """The run in ``out`` has the uninterrupted run's history and final weights."""
    expected, got = history(uninterrupted), history(out)
    assert [row["epoch"] for row in got] == [0, 1, 2]
    for name in ("loss", "val_loss", "val_word_accuracy", "learning_rate"):
        np.testing.assert_allclose([r[name] for r in got], [r[name] for r in expected], rtol=1e-5, err_msg=name)
    final = load_recognizer(str(out / "model.keras")).get_weights()
    for weights, reference in zip(final, load_recognizer(str(uninterrupted / "model.keras")).get_weights()):
        np.testing.assert_allclose(weights, reference, atol=1e-5)

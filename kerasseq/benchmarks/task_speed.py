"""Training speed of the task models: steps per second measured inside ``fit``."""

import time

import keras
import numpy as np

from kerasseq.tasks import run_task
from kerasseq.tasks.common import TaskOptions

#: Epochs per task so that each benchmark run takes at least ~40 training steps.
BENCH_EPOCHS = {"kth-digit": 1, "binary-add": 1, "hello": 60, "names": 5, "sentiment": 10, "forecast": 1,
                "seq2seq": 2, "vec2seq": 60}
WARMUP_STEPS = 10


class StepTimer(keras.callbacks.Callback):
    """Records when each training batch ends; the median of the intervals after the
    warm-up is the steady-state step time. Hooking the batch end makes Keras wait for each
    step's loss, so JAX's and TensorFlow's asynchronous dispatch cannot hide compute time."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())

    def steps_per_second(self, warmup=WARMUP_STEPS):
        """Median steps/s over the intervals after ``warmup`` steps (nan if too few)."""
        intervals = np.diff(self.ends[warmup:])
        return float(1.0 / np.median(intervals)) if len(intervals) else float("nan")


def measure_task(name, cell=None, seed=0):
    """Train task ``name`` briefly with its default model -> training steps/s."""
    timer = StepTimer()
    run_task(name, TaskOptions(cell=cell, seed=seed, epochs=BENCH_EPOCHS[name], verbose=0, callbacks=[timer]))
    return timer.steps_per_second()

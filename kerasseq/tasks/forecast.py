"""Many-to-one regression: forecast the next value of a series from a window of past values.

The reference forecaster: 2 stacked recurrent layers of 32 units, zero initial state, the
last step's output into Dense(1). Data is a column of a CSV file or a generated series
(two seasonal sines, a slow trend and noise). The series is split in time, the first 80%
for training; values are standardised with the training part's mean and spread. The
baseline is the naive forecast: the next value equals the last one.
"""

import csv
import os

import keras
import numpy as np

from kerasseq.errors import DataError
from kerasseq.tasks.common import TaskResult, apply_stack, compile_model, recurrent_stack, seed_everything

WINDOW = 24


def generated_series(length, rng):
    """(length,) float32: sines of periods 24 and 61 steps, a slow trend and N(0, 0.1) noise."""
    steps = np.arange(length)
    series = (np.sin(2 * np.pi * steps / 24) + 0.5 * np.sin(2 * np.pi * steps / 61) + steps / length
              + rng.normal(0, 0.1, length))
    return series.astype("float32")


def read_column(path, column):
    """The numbers of column ``column`` (a header name, or a 0-based index) of a CSV file, in
    file order -> (rows,) float32. Refuses missing columns and cells that are not numbers."""
    if not os.path.isfile(path):
        raise DataError(f"forecast data {path!r} is not a file; expected a CSV file with a header row")
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise DataError(f"{path!r} has no data rows; expected a CSV file with a header row")
    header = rows[0]
    if column is None:
        column = header[-1]
    index = header.index(column) if column in header else (int(column) if str(column).isdigit() else None)
    if index is None or index >= len(header):
        raise DataError(f"{path!r} has no column {column!r}; its columns are {header}")
    try:
        return np.array([float(row[index]) for row in rows[1:] if row], dtype="float32")
    except (ValueError, IndexError):
        raise DataError(f"column {header[index]!r} of {path!r} holds a value that is not a number") from None


def make_windows(series, window):
    """(length,) series -> (inputs (count, window, 1), targets (count, 1)): each window of
    ``window`` values and the value after it."""
    count = len(series) - window
    if count < 1:
        raise DataError(f"a series of {len(series)} values is too short for windows of {window}")
    index = np.arange(window)[None, :] + np.arange(count)[:, None]
    return series[index][..., None], series[window:][:, None]


def build_model(window=WINDOW, cell="rnn", layers=2, units=32):
    """(batch, window, 1) standardised values -> (batch, 1) the next standardised value."""
    inputs = keras.Input((window, 1), name="window")
    features = apply_stack(recurrent_stack(cell, layers, units), inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="next_value")(features), name="forecaster")


def run(options):
    """Train on the first 80% of the series; report test MSE (in the series' own units)
    against the naive last-value forecast."""
    rng = seed_everything(options.seed)
    series = (read_column(options.data, options.column) if options.data
              else generated_series(options.pick("samples", 2000), rng))
    cut = int(len(series) * 0.8)
    mean, spread = float(series[:cut].mean()), float(series[:cut].std()) or 1.0
    scaled = (series - mean) / spread
    train_x, train_y = make_windows(scaled[:cut], WINDOW)
    test_x, test_y = make_windows(scaled[cut - WINDOW:], WINDOW)
    model = build_model(WINDOW, options.pick("cell", "rnn"), options.pick("layers", 2), options.pick("units", 32))
    compile_model(model, "mse", options.pick("learning_rate", 1e-3))
    model.fit(train_x, train_y, batch_size=32, epochs=options.pick("epochs", 20), verbose=options.verbose, callbacks=options.callbacks)
    predicted = model.predict(test_x, verbose=0, batch_size=256)
    test_mse = float(np.mean((predicted - test_y) ** 2)) * spread**2
    naive_mse = float(np.mean((test_x[:, -1] - test_y) ** 2)) * spread**2
    return TaskResult("forecast", model, {"test_mse": test_mse, "naive_mse": naive_mse},
                      {"window": WINDOW, "train_values": cut, "test_values": len(series) - cut})

"""Learning curves of several training runs on one plot: validation word accuracy
against the CPU-hours each run had spent (the ``cpu_hours`` column of its history)."""

import csv
import os

from kerasseq.errors import DataError


def read_curve(run):
    """(cpu_hours, val_word_accuracy) pairs of a run folder's ``history.csv``, in epoch
    order; epochs without both numbers are left out."""
    path = os.path.join(run, "history.csv")
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    points = []
    for row in rows:
        try:
            points.append((float(row["cpu_hours"]), float(row["val_word_accuracy"])))
        except (KeyError, TypeError, ValueError):
            continue
    return points


def plot_learning_curves(runs, png_path, labels=None):
    """Draw each run's :func:`read_curve` into ``png_path``; returns {label: points}.
    labels: one per run (default: the run folders' names)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = labels or [os.path.basename(os.path.normpath(run)) for run in runs]
    curves = {label: read_curve(run) for label, run in zip(labels, runs)}
    figure, axes = plt.subplots(figsize=(6, 4))
    for label, points in curves.items():
        if points:
            axes.plot(*zip(*points), marker="o", label=label)
    axes.set(xlabel="CPU-hours", ylabel="validation word accuracy (held-out families)", ylim=(0, 1))
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return curves

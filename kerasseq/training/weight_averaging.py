"""Averaging the weights of a run's epochs (stochastic weight averaging, Izmailov et al. 2018).

Late in a run the weights wander around a wide optimum while the validation accuracy
moves within its noise; the mean of the last epochs' weights sits nearer its centre and
usually reads better than any one of them. Batch normalisation's moving statistics do
not average that way (they belong to the activations of each epoch's weights), so they
are measured again: the exact mean and variance, per channel, of every batch-norm
layer's input over training images, under the averaged weights.
"""

import itertools

import keras
import numpy as np
from tqdm import tqdm

from kerasseq.errors import DataError
from kerasseq.ocr.predictor import load_recognizer


def average_recognizers(paths):
    """A recogniser whose every weight is the mean of that weight over the recognisers
    saved in ``paths`` (``.keras`` files of one network and charset, e.g. a run's
    ``epochs/epoch-NNNN.keras``); it computes as the first of them does. Its batch-norm
    statistics are the means too, until :func:`recalibrate_batchnorm` measures them.
    DataError when no path is given or the networks differ."""
    if not paths:
        raise DataError("no models to average")
    model = load_recognizer(paths[0])
    total = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
    for path in paths[1:]:
        other = load_recognizer(path)
        weights = other.get_weights()
        if other.charset.characters != model.charset.characters or [w.shape for w in weights] != [w.shape for w in total]:
            raise DataError(f"{path} is another network or charset than {paths[0]}: only epochs of one run average")
        for sum_, weight in zip(total, weights):
            sum_ += weight
    model.set_weights([(sum_ / len(paths)).astype(w.dtype) for sum_, w in zip(total, model.get_weights())])
    return model


def recalibrate_batchnorm(model, batches, max_batches=0, progress=False):
    """Set every ``BatchNormalization`` layer's moving mean and variance of ``model`` to the
    mean and (biased) variance per channel of that layer's input over ``batches`` (an
    iterable of (images, labels) or images, images (batch, 32, 128, 1) float32 in [0, 1]),
    the network running in training mode as in training: each layer normalising with its
    batch's statistics. ``max_batches`` (0: all) caps the batches read. Returns the number
    of images measured; a model without batch norm is left as it is (returns 0)."""
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    probe = keras.Model(model.input, [layer.input for layer in layers])
    sums = [np.zeros(layer.moving_mean.shape, np.float64) for layer in layers]
    squares = [np.zeros(layer.moving_mean.shape, np.float64) for layer in layers]
    counts = [0] * len(layers)  # values per channel: images x height x width of each layer's input
    images_seen = 0
    total = min(len(batches), max_batches or len(batches)) if hasattr(batches, "__len__") else None
    chosen = itertools.islice(batches, max_batches or None)
    for batch in tqdm(chosen, total=total, desc="batch-norm statistics", unit="batch", disable=not progress):
        images = batch[0] if isinstance(batch, tuple) else batch
        inputs = probe(images, training=True)
        for position, x in enumerate(inputs):
            x = keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")).astype(np.float64)
            x = x.reshape(-1, x.shape[-1])
            sums[position] += x.sum(axis=0)
            squares[position] += (x * x).sum(axis=0)
            counts[position] += x.shape[0]
        images_seen += len(images)
    if not images_seen:
        raise DataError("no images to measure the batch-norm statistics on")
    # replaces what the probe's training-mode calls did to the moving statistics too
    for layer, layer_sum, layer_squares, count in zip(layers, sums, squares, counts):
        mean = layer_sum / count
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(np.maximum(layer_squares / count - mean * mean, 0.0).astype("float32"))
    return images_seen

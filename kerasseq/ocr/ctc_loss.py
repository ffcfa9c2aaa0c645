"""CTC loss for recognisers that end in softmax, so ``model.fit(images, labels)`` works.

Keras's CTC (``keras.ops.ctc_loss``) wants logits, class 0 as the blank and labels
padded with 0. Our recognisers output probabilities, so the loss hands it their log
(softmax of a log-probability is itself). Labels no output can emit make the backends
disagree (TF raises, PyTorch returns inf and then NaN gradients), so
:func:`check_labels` rejects them before training starts.
"""

import keras
import numpy as np
from keras import ops

from kerasseq.errors import DataError
from kerasseq.ocr.charset import PADDING_VALUE, steps_needed


@keras.saving.register_keras_serializable(package="kerasseq")
class CTCLoss(keras.losses.Loss):
    """Mean CTC negative log-likelihood per sample.

    y_true: (batch, L) integer labels, classes 1..N, padded with 0.
    y_pred: (batch, T, N + 1) softmax probabilities, class 0 the blank.
    """

    def __init__(self, name="ctc", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        y_pred = ops.cast(y_pred, "float32")
        label_lengths = ops.sum(ops.cast(ops.not_equal(y_true, PADDING_VALUE), "int32"), axis=-1)
        batch, steps = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
        output_lengths = ops.full((batch,), steps, dtype="int32")
        log_probabilities = ops.log(ops.clip(y_pred, 1e-12, 1.0))
        return ops.ctc_loss(y_true, log_probabilities, label_lengths, output_lengths, mask_index=0)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


def check_labels(labels, time_steps):
    """Raise DataError if any (n, L) padded label is empty or needs more than
    ``time_steps`` CTC steps; the message names the first offending row."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise DataError(f"labels must be (samples, length) padded with 0, got shape {labels.shape}")
    lengths = (labels != PADDING_VALUE).sum(axis=1)
    empty = np.nonzero(lengths == 0)[0]
    if len(empty):
        raise DataError(f"{len(empty)} empty label(s), first at row {empty[0]}: CTC cannot learn an empty word")
    needed = steps_needed(labels)
    too_long = np.nonzero(needed > time_steps)[0]
    if len(too_long):
        row = too_long[0]
        raise DataError(
            f"{len(too_long)} label(s) too long for {time_steps} output steps, first at row {row} "
            f"(needs {needed[row]}); drop them or use a model with more steps"
        )

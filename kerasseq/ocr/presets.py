"""The recogniser presets and the CRNN's layer plan, as plain data (no Keras).

Scripts read :data:`PRESETS` for their ``--preset`` choices before Keras loads;
:mod:`kerasseq.ocr.recognizer` builds the Keras network from :func:`conv_stages`, and the
plain-PyTorch peer (:mod:`kerasseq.benchmarks.torch_peer`) builds its own from the same plan.
"""

import dataclasses

from kerasseq.errors import ModelError

#: Named architectures; ``blog`` is the reference network exactly.
PRESETS = {
    "blog": {"kind": "crnn", "filters": [64, 128, 256, 256, 512, 512, 512], "lstm_units": 128, "dropout": 0.2},
    "medium": {"kind": "crnn", "filters": [32, 64, 128, 128, 256, 256, 256], "lstm_units": 128, "dropout": 0.2,
               "batchnorm": "all"},
    "small": {"kind": "crnn", "filters": [16, 32, 64, 64, 128, 128, 128], "lstm_units": 64, "dropout": 0.2,
              "batchnorm": "all"},
    "rnn": {"kind": "rnn", "lstm_units": 128, "lstm_layers": 2, "dropout": 0.2},
}

#: Output steps of every CRNN preset over the 32x128 canvas (the width after two 2x2
#: poolings and the final 2x2 valid convolution: 128 / 4 - 1), so also the longest
#: label and lexicon word a CRNN can emit.
TIME_STEPS = 31


@dataclasses.dataclass(frozen=True)
class ConvStage:
    """One convolution of the CRNN's feature stack, in order: ``filters`` outputs of a
    ``kernel`` x ``kernel`` convolution (``same`` padding, else ``valid``) and ReLU, then
    batch normalisation if ``batchnorm``, then max pooling of window ``pool`` (or none)."""

    filters: int
    kernel: int
    same_padding: bool
    batchnorm: bool
    pool: tuple | None


def conv_stages(architecture):
    """The 7 :class:`ConvStage` of a CRNN ``architecture`` (a :data:`PRESETS` entry):
    (batch, 32, 128, 1) images -> (batch, 1, 31, filters[-1]) features.

    Six 3x3 convolutions pool 2x2 after the first two and 2x1 (height only) after the
    fourth and sixth; batch norm follows the fifth and sixth, or all six with
    ``"batchnorm": "all"``; a 2x2 valid convolution takes the height from 2 to 1."""
    filters = architecture["filters"]
    if len(filters) != 7:
        raise ModelError(f"a CRNN needs 7 conv filter counts, got {len(filters)}")
    pools = {0: (2, 2), 1: (2, 2), 3: (2, 1), 5: (2, 1)}
    stages = [ConvStage(count, 3, True, index in (4, 5) or architecture.get("batchnorm") == "all", pools.get(index))
              for index, count in enumerate(filters[:6])]
    return stages + [ConvStage(filters[6], 2, False, False, None)]

"""Text recognisers: the reference CRNN, a width-scaled CRNN and a raw-pixel RNN.

A recogniser is one :class:`Recognizer` (a ``keras.Model``) built from a charset, an
architecture config and the preprocessing mode it expects. Those three are its
``get_config()``, so ``keras.saving.load_model`` alone restores a working recogniser
(KerasHub-style: the constructor rebuilds the network, then the weights load).
"""

import copy

import keras

from kerasseq.backend import PRECISIONS
from kerasseq.errors import ModelError
from kerasseq.ocr.charset import Charset
from kerasseq.ocr.images import CANVAS_HEIGHT, CANVAS_WIDTH, MODES
from kerasseq.ocr.presets import PRESETS, conv_stages


def _crnn_features(images, architecture, dtype, synchronized_batchnorm=False):
    """The reference conv stack: (batch, 32, 128, 1) -> (batch, 31, filters[-1]), its
    layers under the dtype policy ``dtype``. ``synchronized_batchnorm``: batch statistics
    over all replicas (TensorFlow strategies)."""
    stages = conv_stages(architecture)
    layers = keras.layers
    x = images
    for index, stage in enumerate(stages, start=1):
        x = layers.Conv2D(stage.filters, stage.kernel, padding="same" if stage.same_padding else "valid", activation="relu",
                          dtype=dtype, name=f"conv{index}")(x)
        if stage.batchnorm:
            x = layers.BatchNormalization(synchronized=synchronized_batchnorm, dtype=dtype, name=f"batchnorm{index}")(x)
        if stage.pool:
            x = layers.MaxPooling2D(stage.pool, dtype=dtype, name=f"pool{index}")(x)
    # height is now 1: the 31 columns are the time steps
    return layers.Reshape((x.shape[2], stages[-1].filters), dtype=dtype, name="squeeze_height")(x)


def _pixel_columns(images, dtype):
    """(batch, 32, 128, 1) -> (batch, 128, 32): each pixel column is one time step."""
    columns = keras.layers.Permute((2, 1, 3), dtype=dtype, name="columns_first")(images)
    return keras.layers.Reshape((CANVAS_WIDTH, CANVAS_HEIGHT), dtype=dtype, name="columns")(columns)


def _lstm_dtype(dtype):
    """The dtype policy of a recogniser's LSTMs under the policy ``dtype``: the same,
    except ``mixed_bfloat16`` on a JAX GPU. There Keras runs LSTMs through cuDNN
    (``jax.experimental.rnn``), which lowers float32 and float16 but fails on bfloat16
    (Keras 3.15, jaxlib 0.11), so the LSTMs compute in float32 and the rest in bfloat16."""
    if dtype == "mixed_bfloat16" and keras.backend.backend() == "jax":
        import jax

        if jax.default_backend() == "gpu":
            return "float32"
    return dtype


def build_network(charset, architecture, synchronized_batchnorm=False):
    """(inputs, outputs) of a recogniser: images (batch, 32, 128, 1) float32 in [0, 1]
    -> per-step class probabilities (batch, T, len(charset) + 1) float32, class 0 the blank.

    ``architecture["precision"]`` (default ``float32``) is the Keras dtype policy of every
    layer but the softmax, which stays float32 for the CTC loss; ``mixed_bfloat16``
    computes in bfloat16 on float32 weights (on a JAX GPU, the LSTMs in float32: see
    :func:`_lstm_dtype`).
    """
    kind = architecture.get("kind")
    dtype = architecture.get("precision", "float32")
    if dtype not in PRECISIONS:
        raise ModelError(f"unknown precision {dtype!r}; use one of {', '.join(PRECISIONS)}")
    images = keras.Input((CANVAS_HEIGHT, CANVAS_WIDTH, 1), name="images")
    if kind == "crnn":
        x = _crnn_features(images, architecture, dtype, synchronized_batchnorm)
    elif kind == "rnn":
        x = _pixel_columns(images, dtype)
    else:
        raise ModelError(f"unknown architecture kind {kind!r}; use 'crnn' or 'rnn'")
    lstm_dtype = _lstm_dtype(dtype)
    for index in range(architecture.get("lstm_layers", 2)):
        lstm = keras.layers.LSTM(architecture["lstm_units"], return_sequences=True, dropout=architecture["dropout"],
                                 dtype=lstm_dtype)
        x = keras.layers.Bidirectional(lstm, dtype=lstm_dtype, name=f"bilstm{index + 1}")(x)
    outputs = keras.layers.Dense(Charset(charset).num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return images, outputs


@keras.saving.register_keras_serializable(package="kerasseq")
class Recognizer(keras.Model):
    """A word recogniser that carries its own charset and preprocessing mode.

    Input: images (batch, 32, 128, 1) float32 in [0, 1], made by
    ``kerasseq.ocr.images.fit_to_canvas(..., mode=preprocess_mode) / 255``.
    Output: (batch, T, len(charset) + 1) softmax probabilities, class 0 the CTC blank
    and class i the charset's i-th character (1-based).
    """

    def __init__(self, charset, architecture, preprocess_mode="resize", synchronized_batchnorm=False, **kwargs):
        if preprocess_mode not in MODES:
            raise ModelError(f"unknown preprocessing mode {preprocess_mode!r}")
        inputs, outputs = build_network(charset, architecture, synchronized_batchnorm)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.charset = Charset(charset)
        self.architecture = copy.deepcopy(dict(architecture))
        self.preprocess_mode = preprocess_mode

    @property
    def time_steps(self):
        """Number of output steps T (31 for the CRNNs, 128 for the pixel-column RNN)."""
        return self.output_shape[1]

    def get_config(self):
        return {
            "name": self.name,
            "charset": self.charset.characters,
            "architecture": copy.deepcopy(self.architecture),
            "preprocess_mode": self.preprocess_mode,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_crnn(preset="blog", charset="alnum", preprocess_mode="resize", synchronized_batchnorm=False, **overrides):
    """A :class:`Recognizer` from a :data:`kerasseq.ocr.presets.PRESETS` name (``blog``, ``medium``, ``small``, ``rnn``).

    charset: a Charset, :data:`kerasseq.ocr.charset.CHARSETS` name or characters (default: the reference's 62);
    synchronized_batchnorm: for training under a TensorFlow distribution strategy (not
    saved: a loaded model normalises as any other); overrides: architecture entries to
    change (e.g. ``lstm_units=96``, ``precision="mixed_bfloat16"``).
    """
    if preset not in PRESETS:
        raise ModelError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    if not isinstance(charset, Charset):
        charset = Charset.from_spec(charset)
    architecture = {**PRESETS[preset], **overrides}
    return Recognizer(charset.characters, architecture, preprocess_mode, synchronized_batchnorm, name=f"crnn_{preset}")

"""kerasseq's backend speed routes, behind one registry and one explicit switch.

Each route sends one kind of Keras computation (a backend op, or a layer's call) to a
faster version on one backend and hands every case it does not cover back to Keras, or
sets one backend switch. Nothing is routed by importing kerasseq: :func:`enable` turns
the routes on (the command-line scripts call it once the backend is chosen;
``--no-accel`` or ``KERASSEQ_ACCEL=0`` leaves Keras as it is), :func:`disable` turns them
off again.

Examples:
    >>> from kerasseq import accel
    >>> accel.enable()            # every route for the current backend
    ['fused_lstm', 'channels_last', 'fused_batchnorm', 'fused_adam', 'weight_cache', 'lean_inference', 'traced_inference']  # PyTorch
    >>> accel.disable(["channels_last"])

A route that must be in place before its backend loads (``startup``) is applied by an
:func:`enable` that comes before Keras is imported, as in the scripts, and is listed
only where it took effect.
"""

import dataclasses
import importlib
import os
import sys

#: Set to 0 to keep Keras's own ops in the scripts (as ``--no-accel`` does).
ENVIRONMENT_SWITCH = "KERASSEQ_ACCEL"


@dataclasses.dataclass(frozen=True)
class Route:
    """One speed route: the backend it applies to, the function (``module:name``) that
    routes (called with ``True``) or restores Keras's op (``False``), and what it does."""

    backend: str
    switch: str
    description: str
    #: False for a route that cannot be undone once the backend has started
    reversible: bool = True
    #: True for a route that works only if applied before its backend is imported; its
    #: function returns whether it took effect (None while the backend is not loaded)
    startup: bool = False

    def call(self, enabled):
        module, name = self.switch.split(":")
        function = getattr(importlib.import_module(module), name)
        return function(enabled) if self.reversible else (function() if enabled else None)


#: Every route, by name, in the order they are enabled.
ROUTES = {
    "fused_lstm": Route("torch", "kerasseq.accel.fused_lstm:use_fused_cpu_lstm",
                        "PyTorch on a CPU: LSTMs through ATen's fused op instead of a Python loop over time steps"),
    "channels_last": Route("torch", "kerasseq.accel.torch_layout:use_channels_last_views",
                           "PyTorch: convolutions and max pooling on channels-last views, without layout copies"),
    "fused_batchnorm": Route("torch", "kerasseq.accel.torch_batchnorm:use_fused_batchnorm",
                             "PyTorch: batch normalisation in PyTorch's fused kernel instead of separate tensor passes"),
    "fused_adam": Route("torch", "kerasseq.accel.torch_fused_adam:use_fused_adam",
                        "PyTorch on a CPU: Keras's Adam updates all the variables and moments in one pass of "
                        "PyTorch's fused Adam kernel instead of a dozen whole-model tensor passes"),
    "weight_cache": Route("torch", "kerasseq.accel.torch_weight_cache:use_weight_cache",
                          "PyTorch: at inference each weight's mixed-precision cast, a convolution kernel's "
                          "channels-last layout and an LSTM's fused-op weights are made once per weight value, "
                          "not on every call"),
    "lean_inference": Route("torch", "kerasseq.accel.torch_inference:use_lean_inference",
                            "PyTorch: a functional model's inference calls each layer's call directly, without "
                            "Keras's per-layer __call__ bookkeeping"),
    "traced_inference": Route("torch", "kerasseq.accel.torch_inference:use_traced_inference",
                              "PyTorch: a functional model's inference replays a trace of its layers' PyTorch "
                              "operations, recorded once per input shape, without the layers' Python"),
    "eigen_convolutions": Route("jax", "kerasseq.accel.jax_cpu_convolutions:use_eigen_cpu_convolutions",
                                "JAX on a CPU (jaxlib 0.10-0.11): convolutions on XLA's Eigen kernels, not YNNPACK; "
                                "an XLA flag, so it must come before JAX's first computation", reversible=False),
    "reshape_max_pool": Route("jax", "kerasseq.accel.jax_cpu_pooling:use_reshape_max_pool",
                              "JAX on a CPU: max pooling as a reshaped max, whose gradient avoids select_and_scatter"),
    "winograd": Route("jax", "kerasseq.accel.jax_cpu_winograd:use_winograd_cpu_convolutions",
                      "JAX on a CPU: large 3x3 convolutions as Winograd F(2x2, 3x3) matrix products"),
    "tf_fused_lstm": Route("tensorflow", "kerasseq.accel.tf_lstm:use_fused_cpu_lstm",
                           "TensorFlow on a CPU: LSTMs through its fused BlockLSTMV2 kernel instead of a while loop "
                           "over the time steps"),
    "tf_fused_batchnorm": Route("tensorflow", "kerasseq.accel.tf_batchnorm:use_fused_batchnorm",
                                "TensorFlow: channels-last batch normalisation in its fused kernel instead of separate "
                                "graph operations"),
    "tf_fused_adam": Route("tensorflow", "kerasseq.accel.tf_adam:use_fused_adam",
                           "TensorFlow: Keras's Adam updates each variable and its moments in one ResourceApplyAdam "
                           "kernel instead of about ten graph operations"),
    "onednn": Route("tensorflow", "kerasseq.accel.tf_onednn:use_onednn_cpu_kernels",
                    "TensorFlow on a CPU: oneDNN kernels also where TensorFlow leaves them off (AVX2-only CPUs); "
                    "an environment setting read when TensorFlow is imported, so it must come before Keras",
                    reversible=False, startup=True),
}

_ENABLED = set()


def _names(names, backend):
    unknown = sorted(set(names or ()) - set(ROUTES))
    if unknown:
        raise ValueError(f"unknown route(s) {unknown}; choose from {', '.join(ROUTES)}")
    return [name for name in (names or ROUTES) if ROUTES[name].backend == backend]


def enable(names=None):
    """Turn on the routes ``names`` (default: all) that apply to the current Keras
    backend; returns the names now enabled. Before Keras is imported, the ``startup``
    routes of the backend it is about to load (``KERAS_BACKEND``, else TensorFlow) come
    first. Idempotent; imports Keras."""
    if "keras" not in sys.modules:
        for name in _names(names, os.environ.get("KERAS_BACKEND", "tensorflow")):
            if ROUTES[name].startup:
                ROUTES[name].call(True)
    import keras

    for name in _names(names, keras.backend.backend()):
        if ROUTES[name].call(True) is not False:  # a startup route too late to act reports False
            _ENABLED.add(name)
    return enabled()


def disable(names=None):
    """Give Keras back its own ops for the routes ``names`` (default: all); returns the
    names still enabled (an irreversible route stays so)."""
    import keras

    for name in _names(names, keras.backend.backend()):
        if ROUTES[name].reversible:
            ROUTES[name].call(False)
            _ENABLED.discard(name)
    return enabled()


def enabled():
    """Names of the routes on now, in registry order."""
    return [name for name in ROUTES if name in _ENABLED]


def wanted(no_accel=False):
    """Whether a script should enable the routes: not with ``--no-accel`` or
    ``KERASSEQ_ACCEL=0``."""
    return not no_accel and os.environ.get(ENVIRONMENT_SWITCH, "1") != "0"

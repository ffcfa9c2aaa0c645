"""Sending Keras's backend ops (``keras.src.backend.nn``) to kerasseq's versions and back.

Each route (:mod:`kerasseq.accel.torch_layout`, :mod:`kerasseq.accel.jax_cpu_pooling`,
:mod:`kerasseq.accel.jax_cpu_winograd`) replaces one or two of these functions on one backend
and hands every case it does not cover to Keras's own function, kept here.
"""

import keras

#: Keras's own backend ops by name, as they were before the first route replaced them.
KERAS_OPS = {}


def keras_op(name):
    """Keras's own ``keras.src.backend.nn.<name>`` (e.g. ``"conv"``), whatever is routed."""
    from keras.src import backend

    if name not in KERAS_OPS:
        KERAS_OPS[name] = getattr(backend.nn, name)
    return KERAS_OPS[name]


def route(backend_name, replacements, enabled=True):
    """On the ``backend_name`` backend, make each ``keras.src.backend.nn.<name>`` of
    ``replacements`` ({name: function}) that function (``enabled``) or Keras's own again.
    Idempotent; a no-op on other backends; takes effect for layers called afterwards."""
    if keras.backend.backend() != backend_name:
        return
    from keras.src import backend

    for name, function in replacements.items():
        keras_function = keras_op(name)
        setattr(backend.nn, name, function if enabled else keras_function)

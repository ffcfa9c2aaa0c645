"""Sending Keras's functions (backend ops such as ``keras.src.backend.nn.conv``, a layer's
``call``) to kerasseq's versions and back.

Each route (:mod:`kerasseq.accel.torch_layout`, :mod:`kerasseq.accel.jax_cpu_pooling`,
:mod:`kerasseq.accel.jax_cpu_winograd`, the batch-norm and TensorFlow LSTM routes) replaces
one or two of them on one backend and hands every case it does not cover to Keras's own
function, kept here.
"""

import keras

#: Keras's own backend ops by name, as they were before the first route replaced them.
KERAS_OPS = {}
#: Keras's other functions and methods by (owner, name), kept the same way.
KERAS_ORIGINALS = {}
_generation = 0  # how many times a route has switched a function


def generation():
    """A number that changes whenever a route switches a function to its version or back:
    what was recorded from the routed functions (a trace) is valid while it is unchanged."""
    return _generation


def _set(owner, name, function):
    global _generation
    if getattr(owner, name) is not function:
        setattr(owner, name, function)
        _generation += 1


def keras_original(owner, name):
    """Keras's own ``owner.<name>`` (a module's function or a class's method), whatever is routed."""
    if (owner, name) not in KERAS_ORIGINALS:
        KERAS_ORIGINALS[owner, name] = getattr(owner, name)
    return KERAS_ORIGINALS[owner, name]


def keras_op(name):
    """Keras's own ``keras.src.backend.nn.<name>`` (e.g. ``"conv"``), whatever is routed."""
    from keras.src import backend

    if name not in KERAS_OPS:
        KERAS_OPS[name] = getattr(backend.nn, name)
    return KERAS_OPS[name]


def replace(backend_name, owner, name, function, enabled=True):
    """On the ``backend_name`` backend, make ``owner.<name>`` ``function`` (``enabled``) or
    Keras's own again. Idempotent; a no-op on other backends."""
    if keras.backend.backend() != backend_name:
        return
    keras_function = keras_original(owner, name)
    _set(owner, name, function if enabled else keras_function)


def route(backend_name, replacements, enabled=True):
    """On the ``backend_name`` backend, make each ``keras.src.backend.nn.<name>`` of
    ``replacements`` ({name: function}) that function (``enabled``) or Keras's own again.
    Idempotent; a no-op on other backends; takes effect for layers called afterwards."""
    if keras.backend.backend() != backend_name:
        return
    from keras.src import backend

    for name, function in replacements.items():
        keras_function = keras_op(name)
        _set(backend.nn, name, function if enabled else keras_function)

"""Functional models' inference on the PyTorch backend without Keras's per-layer call overhead.

Keras 3.15 runs a functional model by calling each layer through ``Layer.__call__``: input
conversion, the call context, input-spec and mask bookkeeping, name scopes and the
autocast scope, all in Python, before the layer's ``call``. On PyTorch these run eagerly on
every batch: in the small CRNN's reading at batch 32 they were about a sixth of the batch
(measurements in ``docs/measurements.md``), where the same network written directly in
PyTorch has none. Its route (``lean_inference`` in :mod:`kerasseq.accel`),
:func:`use_lean_inference`, runs a functional model's inference, with no gradient being
recorded, by calling each layer's ``call`` directly with only what that needs: the inputs
converted to the layer's compute dtype as ``__call__`` converts them, the autocast scope
``__call__`` would open (so that variables read as the compute dtype under a mixed
policy), and ``training=False``. The outputs are Keras's own, bit for bit. Training,
recorded gradients, masks (passed in, or made by a layer that computes one), a
data-parallel distribution, traces and ``torch.compile``, and every other backend are left to Keras.

Its second route (``traced_inference``), :func:`use_traced_inference`, replays the direct
call from a trace recorded once per model and input shape (:mod:`kerasseq.accel.torch_trace`),
in the same cases; a model that cannot be traced runs directly if ``lean_inference`` is on,
else through Keras.
"""

import contextlib
import functools

import keras
from keras.src import backend, tree
from keras.src.models.functional import Functional, unpack_singleton

from kerasseq.accel import torch_trace
from kerasseq.accel.keras_routes import keras_original, replace

_switches = set()  # "lean", "traced": the routes on


def use_lean_inference(enabled=True):
    """Route (``enabled``) or stop routing the PyTorch backend's functional-model inference
    to the direct layer calls. Idempotent; a no-op on other backends. Takes effect for
    models called afterwards."""
    _switch("lean", enabled)


def use_traced_inference(enabled=True):
    """Route (``enabled``) or stop routing the PyTorch backend's functional-model inference
    to replays of the direct layer calls' trace. Idempotent; a no-op on other backends.
    Takes effect for models called afterwards."""
    _switch("traced", enabled)


def _switch(name, enabled):
    if keras.backend.backend() != "torch":
        return
    (_switches.add if enabled else _switches.discard)(name)
    replace("torch", Functional, "call", _lean_call, bool(_switches))


def _keras_call(self, inputs, training=None, mask=None, **kwargs):
    """Keras's own ``Functional.call``, for the cases the route leaves to it."""
    return keras_original(Functional, "call")(self, inputs, training=training, mask=mask, **kwargs)


def _lean_call(self, inputs, training=None, mask=None, **kwargs):
    """``Functional.call``'s signature and results: the model's inputs -> its outputs."""
    import torch

    if (training or mask is not None or kwargs or torch.is_grad_enabled() or torch_trace.recorded_elsewhere()
            or keras.distribution.distribution() is not None or not _leanable(self)):
        return _keras_call(self, inputs, training=training, mask=mask, **kwargs)
    flat = tree.flatten(self._standardize_inputs(inputs))
    outputs = None
    if "traced" in _switches and not torch_trace.recording():  # a model inside a traced one is traced with it
        outputs = torch_trace.replay(self, flat, functools.partial(_direct_run, self))
    if outputs is None:
        if "lean" not in _switches:
            return _keras_call(self, inputs)
        outputs = _direct_run(self, flat)
    return unpack_singleton(outputs)


def _direct_run(model, inputs):
    """``model``'s outputs for its flat list of ``inputs``, each layer called directly."""
    return model._run_through_graph(inputs, operation_fn=_direct_call)


#: layers that override ``compute_mask`` only to pass on the mask they are given
MASK_PASSING = (keras.layers.RNN, keras.layers.Bidirectional)


def _leanable(model):
    """Whether every operation of ``model``'s graph is a layer called through Keras's own
    ``__call__`` that makes no mask of its own (it keeps ``Layer.compute_mask``, or only
    passes a mask on), so that with no mask given direct calls lose nothing at inference."""
    return all(isinstance(operation, keras.layers.Layer)
               and type(operation).__call__ is keras.layers.Layer.__call__
               and (type(operation).compute_mask is keras.layers.Layer.compute_mask or isinstance(operation, MASK_PASSING))
               for operation in model.operations)


def _direct_call(layer):
    """``layer``'s ``call`` with what ``Layer.__call__`` gives it at inference: inputs in its
    compute dtype, its autocast scope, ``training=False``."""

    def call(*args, **kwargs):
        if layer._convert_input_args:
            args = [layer.dtype_policy.convert_input(x, layer.autocast, layer.input_dtype) for x in args]
        if layer._call_has_training_arg:
            kwargs["training"] = False
        with _autocast_scope(layer):
            return layer.call(*args, **kwargs)

    return call


def _autocast_scope(layer):
    """The autocast scope ``Layer.__call__`` opens around ``layer.call`` (none: a null context)."""
    current = backend.get_autocast_scope()
    if current is not None:
        if not layer.autocast or not backend.is_float_dtype(layer.compute_dtype):
            return backend.AutocastScope(None)
        if current.dtype != layer.compute_dtype:
            return backend.AutocastScope(layer.compute_dtype)
    elif layer.compute_dtype != layer.variable_dtype:
        return backend.AutocastScope(layer.compute_dtype)
    return contextlib.nullcontext()

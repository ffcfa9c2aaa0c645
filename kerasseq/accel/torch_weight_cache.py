"""Weights in the form a PyTorch kernel takes, made once per weight value at inference.

At every call Keras 3.15 on PyTorch casts each weight to the compute dtype under a mixed
policy (``torch.autocast`` keeps its casts for the whole autocast region), and the routes
bring a convolution kernel to PyTorch's channels-last weight layout and an LSTM's weights to
the fused op's, all from weights that do not change between batches when reading. Its
route (``weight_cache`` in :mod:`kerasseq.accel`), :func:`use_weight_cache`, keeps each of
these on the tensor it was made from, with that tensor's version counter (which every
in-place change, such as ``Variable.assign`` or an optimizer step, advances), and makes it
afresh only when the tensor has changed. Only while no gradient is being recorded: training
makes them afresh as Keras does, so gradients flow through them, and so does a trace, so
that it records them. The values are those Keras and the routes make, bit for bit.
"""

import importlib

import keras
from keras.src.backend import get_autocast_scope

from kerasseq.accel.keras_routes import keras_original, replace

_routed = False
#: looked up once when routing starts: keras.src.backend.torch.core.Variable, its
#: to_torch_dtype, and the module keras.src.backend.torch.rnn
_torch_variable = _to_torch_dtype = _torch_rnn = None


def use_weight_cache(enabled=True):
    """Route (``enabled``) or stop routing the PyTorch backend's weight casts and the
    routes' weight layouts through the cache. Idempotent; a no-op on other backends."""
    global _routed, _torch_variable, _to_torch_dtype, _torch_rnn
    if keras.backend.backend() != "torch":
        return
    from keras.src.backend.torch.core import Variable, to_torch_dtype

    _torch_variable, _to_torch_dtype = Variable, to_torch_dtype
    _torch_rnn = importlib.import_module("keras.src.backend.torch.rnn")
    replace("torch", Variable, "_maybe_autocast", _cached_autocast, enabled)
    replace("torch", _torch_rnn, "prepare_lstm_params", _cached_lstm_params, enabled)
    _routed = enabled


def derived(sources, name, make):
    """``make()``, a tensor made from the tensors ``sources`` (a tuple), kept on
    ``sources[0]`` under ``name`` while the route is on, no gradient is recorded, and the
    same ``sources`` are unchanged; otherwise, and in a trace (which would keep a kept
    tensor as a constant), made afresh."""
    import torch

    if (not _routed or torch.is_grad_enabled() or torch.jit.is_tracing()
            or any(source.is_inference() for source in sources)):
        return make()
    owner, others = sources[0], tuple(sources[1:])
    versions = tuple(source._version for source in sources)
    kept = owner.__dict__.setdefault("_kerasseq_derived", {})
    entry = kept.get(name)
    if entry is not None and entry[1] == versions and all(a is b for a, b in zip(entry[0], others)):
        return entry[2]
    value = make()
    kept[name] = (others, versions, value)  # holds the other sources: no new tensor takes their ids
    return value


def _cached_autocast(self, value):
    """``Variable._maybe_autocast``: ``value`` (the variable's tensor) in the autocast
    scope's dtype, kept per ``value`` and dtype at inference."""
    keras_cast = keras_original(_torch_variable, "_maybe_autocast")
    scope = get_autocast_scope()
    if (scope is None or not self._autocast or scope.dtype is None or not value.is_floating_point()
            or value.dtype == _to_torch_dtype(scope.dtype)):
        return keras_cast(self, value)  # no cast to keep
    return derived((value,), ("autocast", scope.dtype), lambda: keras_cast(self, value))


def _cached_lstm_params(kernel, recurrent_kernel, bias, device):
    """``keras.src.backend.torch.rnn.prepare_lstm_params``: a Keras LSTM's kernel (input,
    4 units), recurrent kernel (units, 4 units) and bias (4 units,) or None -> the fused
    op's [weight_ih, weight_hh, bias_ih, bias_hh], kept at inference."""
    keras_prepare = keras_original(_torch_rnn, "prepare_lstm_params")
    sources = (kernel, recurrent_kernel) if bias is None else (kernel, recurrent_kernel, bias)
    return derived(sources, ("lstm", str(device)), lambda: keras_prepare(kernel, recurrent_kernel, bias, device))

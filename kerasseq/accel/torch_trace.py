"""A functional model's inference on PyTorch recorded once as a trace and replayed.

Even with each layer's ``call`` run directly (the ``lean_inference`` route), every batch of a
functional model's inference runs Keras's Python inside the layers (dtype conversions,
variable reads, RNN bookkeeping, the routes' own checks) between PyTorch's kernels: on the
small CRNN's reading (batch 32, CPU, bfloat16) that was about half of the batch
(measurements in ``docs/measurements.md``). The ``traced_inference`` route in
:mod:`kerasseq.accel` records the PyTorch operations of one direct call with
``torch.jit.trace`` (:func:`replay`), the model's variables among the trace's inputs, and
replays that record for later batches, so that only PyTorch's graph executor runs between
the kernels (and no random number is drawn: see :func:`_record`). A trace is kept per model,
input shapes, dtypes and devices, autocast dtype, variables and routing
(:func:`kerasseq.accel.keras_routes.generation`), and is made afresh when any of these
changes; every call passes the variables' current values, so weights assigned or trained
since are the ones used. A trace records only the path the Python took, so only models built
of Keras's own layers whose inference depends on their inputs' shapes alone
(:data:`SHAPE_ONLY_LAYERS`) are traced, and only where the call reads only the model's
variables and assigns none (a stateful RNN's state is neither); for other models, or if
tracing fails, :func:`replay` returns None and the caller runs the model itself. The
outputs are those of the direct call, bit for bit.
"""

import warnings
import weakref

from keras.src import tree
from keras.src.backend import AutocastScope, StatelessScope, get_autocast_scope

from kerasseq.accel import keras_routes

#: modules (prefixes) of Keras's layers whose inference is tensor operations chosen by their
#: inputs' shapes only (of the core layers, not ``Lambda``, which runs any function)
SHAPE_ONLY_LAYERS = tuple(f"keras.src.layers.{group}" for group in (
    "activations.", "convolutional.", "merging.", "normalization.", "pooling.", "regularization.", "reshaping.", "rnn.",
    "core.dense", "core.einsum_dense", "core.embedding", "core.identity", "core.input_layer", "core.wrapper"))

_traces = weakref.WeakKeyDictionary()  # model -> {key: _Trace, or None where it cannot be traced}
_recording = False


def recording():
    """Whether this module is recording a trace now."""
    return _recording


def recorded_elsewhere():
    """Whether PyTorch is recording a trace or compiling a graph that this module did not
    start: there the routes leave every computation to Keras."""
    import torch

    return (torch.jit.is_tracing() and not _recording) or torch.compiler.is_compiling()


def replay(model, inputs, run):
    """The outputs of ``run(inputs)`` (``inputs``: the functional ``model``'s flat list of
    input tensors; the result: its output structure), from the model's trace for inputs
    like these, recorded from ``run`` on first use; None where the model cannot be traced."""
    import torch

    if not all(isinstance(x, torch.Tensor) for x in inputs):
        return None
    key = (keras_routes.generation(), getattr(get_autocast_scope(), "dtype", None),
           tuple((tuple(x.shape), x.dtype, x.device) for x in inputs), tuple(map(id, model.variables)))
    kept = _traces.setdefault(model, {})
    if key not in kept:
        kept[key] = _record(model, inputs, run) if _shape_only(model) else None
    trace = kept[key]
    return None if trace is None else trace(inputs)


def _shape_only(model):
    """Whether every layer inside ``model`` is one of :data:`SHAPE_ONLY_LAYERS`."""
    return all(type(layer).__module__.startswith(SHAPE_ONLY_LAYERS)
               for layer in model._flatten_layers(include_self=False, recursive=True))


class _Trace:
    """A recorded call: inputs -> the output structure, reading the variables afresh."""

    def __init__(self, variables, function, structure):
        self.variables, self.function, self.structure = variables, function, structure

    def __call__(self, inputs):
        with AutocastScope(None):  # the variables' own values, as the trace took them
            values = [variable.value for variable in self.variables]
        return tree.pack_sequence_as(self.structure, self.function(*inputs, *values))


class _Recording(StatelessScope):
    """The variables' scope while a trace records: reads them from the trace's inputs and
    notes whether the call read a variable that is not among them (the trace would keep its
    value as a constant) or assigned one (the replay would not)."""

    def __init__(self, variables, values):
        super().__init__(state_mapping=list(zip(variables, values)))
        self.stateful = False

    def get_current_value(self, variable):
        value = super().get_current_value(variable)
        self.stateful |= value is None
        return value

    def add_update(self, update):
        self.stateful = True
        super().add_update(update)


def _record(model, inputs, run):
    """``run``'s call on ``inputs`` recorded as a :class:`_Trace`, with ``model``'s variables
    as inputs of the record; None if tracing fails or the call reads a variable that is not
    the model's or assigns one."""
    import torch

    global _recording
    variables = model.variables
    with AutocastScope(None):
        values = [variable.value for variable in variables]
    count, structure, scopes = len(inputs), [], []

    def call(*tensors):
        with _Recording(variables, tensors[count:]) as scope:
            outputs = run(list(tensors[:count]))
        scopes.append(scope)
        structure.append(outputs)
        return tuple(tree.flatten(outputs))

    _recording = True
    try:
        # Keras's RNN layers draw dropout masks at inference that no output uses; the replay
        # leaves them out, and the recording gives the random generators back as it found
        # them, so that reading never moves them, however many traces it records
        with warnings.catch_warnings(), torch.random.fork_rng():
            # torch.jit.trace's deprecation notice, and its notes on shapes read as Python
            # numbers: the trace is kept per input shape
            warnings.simplefilter("ignore")
            function = torch.jit.trace(call, tuple(inputs) + tuple(values), check_trace=False)
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return None
    finally:
        _recording = False
    return None if scopes[0].stateful else _Trace(variables, function, structure[0])

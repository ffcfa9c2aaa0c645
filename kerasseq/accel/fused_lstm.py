"""Keras LSTM layers on a PyTorch CPU through ATen's fused LSTM op.

Keras 3.15 runs ``keras.layers.LSTM`` on the PyTorch backend through ``torch._VF.lstm``
(the op behind ``torch.nn.LSTM``, its time loop in C++) only on CUDA; on a CPU it loops
over the time steps in Python, several small ops and their backward per step. Its route
(``fused_lstm`` in :mod:`kerasseq.accel`), :func:`use_fused_cpu_lstm`,
sends Keras's CPU LSTMs to the fused op wherever Keras's own CUDA path would take it
(tanh and sigmoid activations, a bias, no mask, not unrolled, not inside a trace or
``torch.compile`` other than :mod:`kerasseq.accel.torch_trace`'s). The results are the
same to float32 rounding; every other case, and every other backend, is left to Keras.
"""

import importlib

import keras
from keras.src import backend

from kerasseq.accel.keras_routes import keras_original, replace
from kerasseq.accel.torch_trace import recorded_elsewhere

_torch_rnn = None  # keras.src.backend.torch.rnn, looked up once when routing starts


def use_fused_cpu_lstm(enabled=True):
    """Route (``enabled``) or stop routing the PyTorch backend's CPU LSTMs to the fused op.

    Idempotent; a no-op on other backends. Takes effect for layers called afterwards.
    """
    global _torch_rnn
    if keras.backend.backend() != "torch":
        return
    _torch_rnn = importlib.import_module("keras.src.backend.torch.rnn")
    replace("torch", backend, "lstm", _fused_lstm, enabled)


def _fused_lstm(inputs, initial_state_h, initial_state_c, mask, kernel, recurrent_kernel, bias, activation,
                recurrent_activation, return_sequences=False, go_backwards=False, unroll=False, batch_first=True):
    """``keras.src.backend.lstm``'s signature and results: inputs (batch, time, features)
    -> (last output (batch, units), outputs (batch, time or 1, units), [h, c])."""
    import torch

    torch_rnn = _torch_rnn
    inputs = torch_rnn.convert_to_tensor(inputs)
    fusable = (
        inputs.device.type == "cpu"
        and batch_first
        and mask is None
        and bias is not None
        and not unroll
        and activation in (keras.activations.tanh, keras.ops.tanh, torch.tanh)
        and recurrent_activation in (keras.activations.sigmoid, keras.ops.sigmoid, torch.sigmoid)
        and not recorded_elsewhere()
    )
    if not fusable:
        return keras_original(backend, "lstm")(inputs, initial_state_h, initial_state_c, mask, kernel, recurrent_kernel,
                                               bias, activation, recurrent_activation, return_sequences, go_backwards,
                                               unroll, batch_first)
    kernel = torch_rnn.convert_to_tensor(kernel)
    dtype = kernel.dtype
    inputs = inputs.to(dtype)
    if go_backwards:
        inputs = torch.flip(inputs, dims=[1])
    return torch_rnn._cudnn_lstm(  # device-neutral despite its name: torch._VF.lstm on inputs' device
        inputs, torch_rnn.convert_to_tensor(initial_state_h).to(dtype), torch_rnn.convert_to_tensor(initial_state_c).to(dtype),
        kernel, torch_rnn.convert_to_tensor(recurrent_kernel), torch_rnn.convert_to_tensor(bias),
        return_sequences=return_sequences, device=inputs.device)

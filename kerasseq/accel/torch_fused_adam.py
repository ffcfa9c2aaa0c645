"""Keras's Adam on a PyTorch CPU as one fused kernel pass over all the variables.

Keras 3.15 updates Adam's variables on PyTorch with a dozen ``torch._foreach_*`` calls a
step, most of which make new tensors the size of all the weights (the squared gradients,
the scaled moments, their square roots and the quotients); for the blog CRNN's 6.6 million
weights that took 16 ms of a training step on a 2-core CPU, and PyTorch's fused kernel 4 ms
(measurements in ``docs/measurements.md``). Its route
(``fused_adam`` in :mod:`kerasseq.accel`), :func:`use_fused_adam`, sends the update step of
Keras's ``Adam`` (and so ``AdamW``, whose weight decay Keras applies before the step) to
``torch._fused_adam_``, which updates each variable and both moments in place in one pass.

The step is Keras's: PyTorch divides the moments' bias corrections in differently, which
comes to Keras's ``epsilon`` scaled by ``1 / sqrt(1 - beta_2 ** t)``, passed so; AMSGrad
included. The results are Keras's to float32 rounding. Variables on another device than
the CPU or other than float32 are left to Keras, as is every other
optimizer and backend; the gradient clipping, accumulation, loss scaling, weight decay and
moving averages that Keras applies around the step are unchanged.
"""

import importlib
import math

import keras

from kerasseq.accel.keras_routes import keras_original, replace

_torch_adam = None  # keras.src.backend.torch.optimizers.torch_adam, looked up when routing starts


def use_fused_adam(enabled=True):
    """Route (``enabled``) or stop routing the update step of Keras's Adam on the PyTorch
    backend to PyTorch's fused kernel. Idempotent; a no-op on other backends. Takes effect
    for the next step."""
    global _torch_adam
    if keras.backend.backend() != "torch":
        return
    _torch_adam = importlib.import_module("keras.src.backend.torch.optimizers.torch_adam")
    replace("torch", _torch_adam.Adam, "_parallel_update_step", _fused_update_step, enabled)


def _keras_update_step(self, grads, variables, learning_rate):
    """Keras's own ``Adam._parallel_update_step``, for the cases the route leaves to it."""
    return keras_original(_torch_adam.Adam, "_parallel_update_step")(self, grads, variables, learning_rate)


def _fused_update_step(self, grads, variables, learning_rate):
    """``Adam._parallel_update_step``: one step on the Keras ``variables`` (a list) from
    their ``grads`` (PyTorch tensors of the same shapes) at ``learning_rate`` (a scalar),
    the moments kept in the optimizer's own variables."""
    import torch

    values = [variable.value for variable in variables]
    if not values or any(value.device.type != "cpu" or value.dtype != torch.float32 for value in values + list(grads)):
        return _keras_update_step(self, grads, variables, learning_rate)
    indices = [self._get_variable_index(variable) for variable in variables]
    step = int(keras.ops.convert_to_numpy(self.iterations)) + 1
    epsilon = self.epsilon / math.sqrt(1 - self.beta_2 ** step)  # Keras's epsilon, where PyTorch adds it
    torch._fused_adam_(
        values, list(grads),
        [self._momentums[index].value for index in indices],
        [self._velocities[index].value for index in indices],
        [self._velocity_hats[index].value for index in indices] if self.amsgrad else [],
        [torch.tensor(float(step))] * len(values),
        lr=float(keras.ops.convert_to_numpy(learning_rate)), beta1=float(self.beta_1), beta2=float(self.beta_2),
        weight_decay=0.0, eps=epsilon, amsgrad=bool(self.amsgrad), maximize=False)

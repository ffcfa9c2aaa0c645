"""Neural arithmetic layers: NAC and NALU (Trask et al., 2018), NAU and NMU (Madsen &
Johansen, 2020), and :class:`ArithmeticCell` to run any of them as a recurrent cell.

All take ``(batch, features)`` and return ``(batch, units)``; only ``keras.ops`` inside, so
they run on every backend, and all are registered for ``keras.saving``.
"""

import math

import keras
from keras import ops

PACKAGE = "kerasseq"
#: A gate logit this far from 0 gives sigmoid within 2e-9 of 0 or 1.
SATURATED_GATE = 20.0


@keras.saving.register_keras_serializable(package=PACKAGE)
class Clip(keras.constraints.Constraint):
    """Keeps a weight in [low, high] after every optimizer step."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def __call__(self, weight):
        return ops.clip(weight, self.low, self.high)

    def get_config(self):
        return {"low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sparsity(keras.regularizers.Regularizer):
    """``strength * mean(min(|W|, 1 - |W|))``: pushes each weight towards 0 or ±1 (NAU, NMU)."""

    def __init__(self, strength):
        self.strength = strength

    def __call__(self, weight):
        magnitude = ops.abs(weight)
        return self.strength * ops.mean(ops.minimum(magnitude, 1.0 - magnitude))

    def get_config(self):
        return {"strength": self.strength}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NAC(keras.layers.Layer):
    """Neural accumulator: ``y = x W`` with ``W = tanh(Ŵ) * sigmoid(M̂)``, which biases every
    weight towards -1, 0 or 1, so the layer adds and subtracts its inputs exactly.

    inputs: (batch, features) -> (batch, units). Ŵ and M̂ are trained; W is recomputed from
    them on every call (never frozen at build time).
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        shape = (input_shape[-1], self.units)
        self.w_hat = self.add_weight(shape=shape, initializer=self.kernel_initializer, name="w_hat")
        self.m_hat = self.add_weight(shape=shape, initializer=self.kernel_initializer, name="m_hat")

    def weight(self):
        """The effective weight matrix W, (features, units), each entry in (-1, 1)."""
        return ops.tanh(self.w_hat) * ops.sigmoid(self.m_hat)

    def call(self, inputs):
        return ops.matmul(inputs, self.weight())

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NALU(keras.layers.Layer):
    """Neural arithmetic logic unit: ``y = g * a + (1 - g) * m`` where ``a = x W`` (add,
    subtract), ``m = exp(log(|x| + eps) W')`` (multiply, divide, powers) and the gate
    ``g = sigmoid(x G)``. W' is W (the original) or, with ``separate_weights``, its own NAC
    weight. With ``input_gate=False`` the gate is ``sigmoid(c)``, one trained scalar per
    unit (iNALU, Schlör et al., 2020): the choice of add or multiply no longer depends on
    the input, so it cannot drift when inputs leave the training range.

    inputs: (batch, features) -> (batch, units).

    Numerical safety: ``eps`` keeps log(0) finite (log(eps)) and its gradient bounded by
    1/eps; the log-space sum is clipped to ±``max_exponent`` before ``exp`` so huge inputs or
    weights give at most exp(max_exponent) (about 4.9e8 by default) and a zero, not NaN,
    gradient past the cap. Like the original, the log path loses the sign of negative inputs.

    ``gate_saturation`` (only with ``input_gate=False``) adds iNALU's gate regulariser,
    ``gate_saturation * mean(max(SATURATED_GATE - |c|, 0)) / SATURATED_GATE``, which drives
    each gate logit past ±20 so the unit ends exactly adding or exactly multiplying instead
    of a blend that only fits the training range. It is scaled by the non-trainable
    ``saturation_scale`` (1 at the start) so training can hold it off for the first epochs.
    """

    def __init__(self, units, epsilon=1e-7, max_exponent=20.0, separate_weights=False, input_gate=True,
                 gate_saturation=0.0, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if gate_saturation and input_gate:
            raise ValueError("gate_saturation needs input_gate=False: an input-dependent gate has no single logit to saturate")
        self.units = units
        self.gate_saturation = gate_saturation
        self.epsilon = epsilon
        self.max_exponent = max_exponent
        self.separate_weights = separate_weights
        self.input_gate = input_gate
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.add_path = NAC(units, self.kernel_initializer, name="add_path")
        self.log_path = NAC(units, self.kernel_initializer, name="log_path") if separate_weights else None

    def build(self, input_shape):
        for path in (self.add_path, self.log_path):
            if path is not None:
                path.build(input_shape)
        if self.input_gate:
            self.gate = self.add_weight(shape=(input_shape[-1], self.units), initializer=self.kernel_initializer,
                                        name="gate")
            return
        self.gate = self.add_weight(shape=(self.units,), initializer="zeros", name="gate",
                                    regularizer=self._gate_shortfall if self.gate_saturation else None)
        if self.gate_saturation:
            self.saturation_scale = self.add_weight(shape=(), initializer="ones", trainable=False,
                                                    name="saturation_scale")

    def _gate_shortfall(self, gate):
        """The gate regulariser, a scalar. A weight regulariser, not ``add_loss`` in ``call``:
        it counts once per model even inside a recurrent cell, and it stays out of the
        cell's loop (JAX cannot return a loss traced inside its scan)."""
        shortfall = ops.mean(ops.maximum(SATURATED_GATE - ops.abs(gate), 0.0)) / SATURATED_GATE
        return self.gate_saturation * self.saturation_scale * shortfall

    def call(self, inputs):
        added = self.add_path(inputs)
        log_weight = (self.log_path or self.add_path).weight()
        log_magnitude = ops.log(ops.abs(inputs) + self.epsilon)
        multiplied = ops.exp(ops.clip(ops.matmul(log_magnitude, log_weight), -self.max_exponent, self.max_exponent))
        gate = ops.sigmoid(ops.matmul(inputs, self.gate) if self.input_gate else self.gate)
        return gate * added + (1.0 - gate) * multiplied

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "epsilon": self.epsilon,
                "max_exponent": self.max_exponent, "separate_weights": self.separate_weights,
                "input_gate": self.input_gate, "gate_saturation": self.gate_saturation,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


def _madsen_range(features, units):
    """Half-width of the uniform NAU initialisation: min(0.5, sqrt(3) * sqrt(2 / (in + out)))."""
    return min(0.5, math.sqrt(3.0) * math.sqrt(2.0 / (features + units)))


@keras.saving.register_keras_serializable(package=PACKAGE)
class NAU(keras.layers.Layer):
    """Neural addition unit: ``y = x W`` with W kept in [-1, 1] (clipped in the forward pass
    and after every update) and the sparsity regulariser pulling W to -1, 0 or 1.

    inputs: (batch, features) -> (batch, units). Linear, so no log, exp or division: finite
    for any finite input. ``kernel_initializer`` defaults to Madsen & Johansen's
    U(-r, r), r = min(0.5, sqrt(3) * sqrt(2 / (features + units))).
    """

    def __init__(self, units, sparsity=0.01, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.sparsity = sparsity
        self.kernel_initializer = keras.initializers.get(kernel_initializer) if kernel_initializer else None

    def build(self, input_shape):
        limit = _madsen_range(input_shape[-1], self.units)
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w",
                                 initializer=self.kernel_initializer or keras.initializers.RandomUniform(-limit, limit),
                                 constraint=Clip(-1.0, 1.0), regularizer=Sparsity(self.sparsity) if self.sparsity else None)

    def call(self, inputs):
        return ops.matmul(inputs, ops.clip(self.w, -1.0, 1.0))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        initializer = keras.initializers.serialize(self.kernel_initializer) if self.kernel_initializer else None
        return {**super().get_config(), "units": self.units, "sparsity": self.sparsity,
                "kernel_initializer": initializer}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NMU(keras.layers.Layer):
    """Neural multiplication unit: ``y_j = prod_i (W_ij x_i + 1 - W_ij)`` with W kept in
    [0, 1], so W_ij = 1 multiplies x_i in and W_ij = 0 leaves it out (a factor of 1).

    inputs: (batch, features) -> (batch, units). No log or division, so zero inputs are
    safe and the gradient stays finite at x = 0; the output is finite whenever the true
    product fits in float32 (it overflows to inf beyond ~3e38, as the product itself does).
    """

    def __init__(self, units, sparsity=0.01, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.sparsity = sparsity

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w",
                                 initializer=keras.initializers.RandomUniform(0.25, 0.75),
                                 constraint=Clip(0.0, 1.0), regularizer=Sparsity(self.sparsity) if self.sparsity else None)

    def call(self, inputs):
        weight = ops.clip(self.w, 0.0, 1.0)
        factors = ops.expand_dims(inputs, -1) * weight + (1.0 - weight)
        return ops.prod(factors, axis=-2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "sparsity": self.sparsity}


UNITS = {"nac": NAC, "nalu": NALU, "nau": NAU, "nmu": NMU, "dense": keras.layers.Dense}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ArithmeticCell(keras.layers.Layer):
    """A recurrent cell for ``keras.layers.RNN``: ``h_t = unit([x_t, h_{t-1}])`` where
    ``unit`` is one of ``nac``, ``nalu``, ``nau``, ``nmu`` (or ``dense`` as a baseline);
    with ``accumulate``, ``h_t = h_{t-1} + unit(x_t)``: a running sum by construction, of
    what the unit makes of each step's input.

    A NAC cell whose weights settle at 1 on ``x_t`` and on ``h_{t-1}`` is an exact running
    sum. State and output: (batch, units). ``unit_config`` goes to the unit's constructor.
    """

    def __init__(self, units, unit="nac", unit_config=None, accumulate=False, **kwargs):
        super().__init__(**kwargs)
        if unit not in UNITS:
            raise ValueError(f"unknown arithmetic unit {unit!r}; choose one of {', '.join(UNITS)}")
        self.units = units
        self.unit = unit
        self.unit_config = dict(unit_config or {})
        self.accumulate = accumulate
        self.state_size = units
        self.output_size = units
        self.inner = UNITS[unit](units, **self.unit_config, name=f"{unit}_unit")

    def build(self, input_shape):
        self.inner.build((input_shape[0], input_shape[-1] + (0 if self.accumulate else self.units)))

    def call(self, inputs, states):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        if self.accumulate:
            output = previous + self.inner(inputs)
        else:
            output = self.inner(ops.concatenate([inputs, previous], axis=-1))
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "unit": self.unit, "unit_config": self.unit_config,
                "accumulate": self.accumulate}

"""The NALU paper's arithmetic experiments, as functions that return numbers.

Simple-function learning (Trask et al., 2018, as set up by Madsen & Johansen, 2020): an
input vector of 100 values; ``a`` and ``b`` are sums of two fixed contiguous slices (each a
quarter of the vector, overlapping by half); the target is one of a+b, a-b, a*b, a/b, a^2,
sqrt(a). Models train on inputs drawn from U[1, 2] and are tested on the same range
(interpolation) and on U[2, 6] (extrapolation). Errors are reported on the paper's scale:
100 * MSE / MSE of the same model at its random initialisation, so a random model scores
100 and a perfect one 0. A seed counts as a success by Madsen & Johansen's (2020) criterion:
its extrapolation MSE is below that of a near-perfect model (:func:`near_perfect_mse`). As
they do, each run also reports the updates it took to first pass that threshold and the
sparsity error of its arithmetic weights (:func:`sparsity_error`).

The recurrent variant feeds a sequence of 10-value vectors, ``a`` and ``b`` summed over
time as well, and extrapolates to longer sequences of larger values. Two applied
experiments: counting digits in a sequence with a recurrent NAC, and reading number words
into their value with an LSTM topped by a NALU or a linear layer.
"""

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os

import keras
import numpy as np

from kerasseq.arithmetic.layers import NAC, NALU, NAU, NMU, SATURATED_GATE, ArithmeticCell
from kerasseq.tasks.classifier import Vocabulary
from kerasseq.tasks.seq2seq import composed_numbers, number_words

OPERATIONS = {
    "a+b": lambda a, b: a + b,
    "a-b": lambda a, b: a - b,
    "a*b": lambda a, b: a * b,
    "a/b": lambda a, b: a / b,
    "a^2": lambda a, b: a * a,
    "sqrt(a)": lambda a, b: np.sqrt(a),
}
MODELS = ("mlp", "nac", "nalu", "nalu_stable", "nalu_stable_1x", "nau_nmu")
#: ``nalu_stable``'s combining layer's gate trains freely for ``GATE_CHOICE_EPOCH`` of the
#: ``EPOCHS``; then training branches, the gate saturated on the add path in one branch and
#: on the multiply path in the other (held there by the gate regulariser of strength
#: ``GATE_SATURATION``), and the branch with the lower in-range validation error is kept.
#: Left to the regulariser alone, the gate locks onto whichever path fits first: in a range
#: as narrow as U[1, 2], a linear fit of sqrt(a) does.
GATE_SATURATION, GATE_CHOICE_EPOCH = 1000.0, 3
#: ``nalu_stable``'s combining NALU: its own log-path weight and an input-independent gate
#: with the saturation regulariser (iNALU), so it ends adding or multiplying, not a blend
#: that only fits the training range.
STABLE_NALU = {"separate_weights": True, "input_gate": False, "gate_saturation": GATE_SATURATION}
#: ``nalu_stable``'s selection layer is an NAU started at U(0, 0.1) (statically; recurrent,
#: the unit of an accumulating cell): the inputs are positive, so every selected sum starts
#: large and positive, away from the NALU log path's singularity at 0 (a NAC or a NALU
#: there saturates to sum everything or dies at 0). A config, not an initializer object: an
#: unseeded Keras initializer fixes its seed when made, so one shared instance would start
#: every model and every restart alike.
POSITIVE_START = {"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 0.1}}
#: A stuck ``nalu_stable`` start (one path's log weight gone negative, loss in the millions)
#: ends at 9-150 on the scaled in-range error; a working one below 1. Up to 3 starts, the
#: one with the lowest in-range error kept.
STUCK, STABLE_NALU_STARTS = 1.0, 3
#: Last in each gate branch, ``nalu_stable`` tries its selection snapped to -1/0/1 and
#: frozen, with the combining layer retrained this many epochs, and keeps it if the
#: in-range validation error falls.
#: The selection's weights end near, not at, the grid, and in a range as narrow as U[1, 2]
#: a selection scaled by c and an exponent p fit sqrt(a) for many (c, p): snapped, c = 1.
POLISH_EPOCHS = 3
#: The polish also puts the combining layer's weights that lie within this distance of -1, 0
#: or 1 there exactly: a NAC weight tanh(W-hat) * sigmoid(M-hat) only nears +-1 as both
#: saturate, ever more slowly, and a^2 from two units that select a needs exponents of
#: exactly 1 (at 1 - 5e-4, the in-range error was 17 times the unsnapped model's).
GRID_TOLERANCE = 0.05
#: NAC logits that give a weight exactly on the grid in float32, with a gradient so small
#: that Adam leaves it there (to 1e-15): W-hat = +-20 and M-hat = 20 give +-1; W-hat = 0
#: and M-hat = -40 (sigmoid ~ 4e-18) give 0.
ONE_LOGIT, ZERO_LOGIT = 20.0, -40.0
#: In the multiply branch, after the polish, ``nalu_stable`` splits its two selection units
#: apart along the residual's principal Hessian direction (:func:`split_selection`), trains
#: this many epochs and polishes again, kept if the in-range validation error falls.
SPLIT_EPOCHS = 3
#: Only a branch that fits better than the targets' mean (validation MSE below this share of
#: their variance) is split: the symmetric saddle fits a*b to 1e-4 to 2e-2 of it, a stuck
#: start 100 times worse than the mean. Split, a stuck start came partly unstuck (static
#: a^2: 0.03 out of range, in range under ``STUCK``), and that took the place of the
#: restart that found the exact model.
SPLIT_BELOW = 1.0
#: The residual's principal Hessian direction is estimated from this many training samples.
CURVATURE_SAMPLES = 20000
INTERPOLATION, EXTRAPOLATION = (1.0, 2.0), (2.0, 6.0)
#: Every model sees its training set this many times: ``Budget.steps`` updates in all
#: (``nalu_stable``: up to 2.9 times that: 3 epochs, then in each gate branch the last 7 and
#: ``POLISH_EPOCHS`` with its selection snapped, and in the multiply branch
#: ``SPLIT_EPOCHS`` and ``POLISH_EPOCHS`` more after the split).
EPOCHS = 10
#: ``nalu_stable``'s epochs at most, per start: the free-gate epochs, both gate branches, a
#: polish in each, and in the multiply branch the split and one more polish.
STABLE_EPOCHS = GATE_CHOICE_EPOCH + 2 * (EPOCHS - GATE_CHOICE_EPOCH) + 3 * POLISH_EPOCHS + SPLIT_EPOCHS
#: ``nalu_stable_1x`` is ``nalu_stable`` held to the other models' budget, restarts included:
#: its epochs are this many times shorter, so its most updates, every start and phase
#: taken, are ``Budget.steps``.
STABLE_SHORTER = STABLE_EPOCHS * STABLE_NALU_STARTS / EPOCHS
#: The near-perfect model of the success criterion has every weight off by this much
#: (Madsen & Johansen, 2020, use 1e-5).
NEAR_PERFECT_EPSILON = 1e-5
#: A scaled error is capped here in tables: a model can be far worse than random.
WORST_SHOWN = 1e4


@dataclasses.dataclass
class Budget:
    """How much training each (model, operation, seed) gets."""

    steps: int = 10000
    batch_size: int = 128
    seeds: int = 5
    #: seeds first_seed, first_seed + 1, ...: fresh seeds for a table (0-2 were used in development)
    first_seed: int = 0

    @property
    def seed_range(self):
        return range(self.first_seed, self.first_seed + self.seeds)


def slices(size, rng):
    """The two fixed subsets as (start_a, start_b, length): each a quarter of ``size``,
    overlapping by half, placed at a random offset."""
    length = size // 4
    start = int(rng.integers(0, size - length - length // 2 + 1))
    return start, start + length // 2, length


def static_data(operation, subsets, count, value_range, rng, size=100):
    """(inputs (count, size) float32 from U[value_range], targets (count, 1) float32)."""
    inputs = rng.uniform(*value_range, size=(count, size)).astype("float32")
    start_a, start_b, length = subsets
    a = inputs[:, start_a:start_a + length].sum(axis=1, dtype="float64")
    b = inputs[:, start_b:start_b + length].sum(axis=1, dtype="float64")
    return inputs, OPERATIONS[operation](a, b)[:, None].astype("float32")


def recurrent_data(operation, subsets, count, steps, value_range, rng, size=10):
    """Sequences (count, steps, size); ``a``, ``b`` summed over slices and over time ->
    (inputs float32, targets (count, 1) float32)."""
    inputs = rng.uniform(*value_range, size=(count, steps, size)).astype("float32")
    start_a, start_b, length = subsets
    a = inputs[:, :, start_a:start_a + length].sum(axis=(1, 2), dtype="float64")
    b = inputs[:, :, start_b:start_b + length].sum(axis=(1, 2), dtype="float64")
    return inputs, OPERATIONS[operation](a, b)[:, None].astype("float32")


def _unit(model, units, operation, name):
    """One arithmetic layer of ``model``'s kind; for ``nau_nmu`` the unit that fits the
    operation (NAU adds and subtracts, NMU multiplies)."""
    if model == "nac":
        return NAC(units, name=name)
    if model == "nalu":
        return NALU(units, name=name)
    if model == "nalu_stable":
        return NALU(units, name=name, **STABLE_NALU)
    return NAU(units, name=name) if operation in ("a+b", "a-b") else NMU(units, name=name)


def build_static(model, operation, size=100):
    """(batch, size) -> (batch, 1). ``mlp``: two ReLU6 layers of 64; the others: a first
    layer that can pick out a and b (2 units) and a second that combines them."""
    inputs = keras.Input((size,))
    if model == "mlp":
        hidden = keras.layers.Dense(64, activation="relu6")(keras.layers.Dense(64, activation="relu6")(inputs))
        return keras.Model(inputs, keras.layers.Dense(1)(hidden))
    if model == "nalu_stable":
        first = NAU(2, kernel_initializer=POSITIVE_START, name="select")
    else:
        first = _unit(model, 2, "a+b", "select")  # picking a and b out of the input is a sum
    return keras.Model(inputs, _unit(model, 1, operation, "combine")(first(inputs)))


def build_recurrent(model, operation, size=10):
    """(batch, steps, size) -> (batch, 1): a recurrent accumulator (LSTM(64) for ``mlp``; an
    :class:`ArithmeticCell` of NAC, NALU or NAU otherwise; for ``nalu_stable`` an
    accumulating cell of an NAU) and the combining layer."""
    inputs = keras.Input((None, size))
    if model == "mlp":
        return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(64)(inputs)))
    if model == "nalu_stable":
        # the static model's selection, summed over time by construction: a learnt recurrence
        # (a NALU or an NAU on [x_t, h_{t-1}]) settled off the identity and failed a*b and a^2
        cell = ArithmeticCell(2, "nau", {"kernel_initializer": POSITIVE_START}, accumulate=True)
    else:
        cell = ArithmeticCell(2, {"nac": "nac", "nalu": "nalu", "nau_nmu": "nau"}[model])
    summed = keras.layers.RNN(cell, name="accumulate")(inputs)
    return keras.Model(inputs, _unit(model, 1, operation, "combine")(summed))


def _mse(model, inputs, targets):
    predictions = model.predict(inputs, verbose=0, batch_size=len(inputs)).astype("float64")
    error = np.mean((predictions - targets) ** 2)
    return float(error) if np.isfinite(error) else float("inf")


def scaled(error, random_error):
    """The paper's scale: 100 * error / random model's error, capped at ``WORST_SHOWN``."""
    return float(min(WORST_SHOWN, 100.0 * error / random_error)) if random_error > 0 else float("nan")


def near_perfect_mse(operation, inputs, targets, subsets, epsilon=NEAR_PERFECT_EPSILON):
    """The MSE on (inputs, targets) of Madsen & Johansen's near-perfect solution: every
    weight of the exact model off by ``epsilon``, the way that adds to the output: a and b
    each select their slice with weight 1 + epsilon and every other input with epsilon,
    and the result is scaled by 1 + epsilon. inputs: (count, features) or, recurrent,
    (count, steps, features), summed over time; subsets: :func:`slices`."""
    values = inputs.astype("float64")
    values = values.sum(axis=1) if values.ndim == 3 else values
    start_a, start_b, length = subsets
    total = values.sum(axis=1)
    a = values[:, start_a:start_a + length].sum(axis=1) + epsilon * total
    b = values[:, start_b:start_b + length].sum(axis=1) + epsilon * total
    predictions = (1.0 + epsilon) * OPERATIONS[operation](a, b)
    return float(np.mean((predictions - targets[:, 0].astype("float64")) ** 2))


def arithmetic_weights(model):
    """The effective weights of every NAC, NALU, NAU and NMU in ``model`` (inside RNN cells
    too), as NumPy arrays: W = tanh(W-hat) sigmoid(M-hat) for a NAC and each NALU path."""
    found = []

    def visit(layer):
        if isinstance(layer, NAC):
            found.append(layer.weight())
        elif isinstance(layer, NALU):
            for path in (layer.add_path, layer.log_path):
                if path is not None:
                    visit(path)
        elif isinstance(layer, (NAU, NMU)):
            found.append(layer.w)
        elif isinstance(layer, ArithmeticCell):
            visit(layer.inner)
        elif isinstance(layer, keras.layers.RNN):
            visit(layer.cell)

    for layer in model.layers:
        visit(layer)
    return [keras.ops.convert_to_numpy(weight) for weight in found]


def sparsity_error(model):
    """Madsen & Johansen's sparsity error: the largest distance of an arithmetic weight
    from the nearest of -1, 0 and 1, max over W of min(|W|, |1 - |W||); 0 for weights all
    on the grid, None for a model with no arithmetic layer (the MLP)."""
    weights = arithmetic_weights(model)
    if not weights:
        return None
    return float(max(np.max(np.minimum(np.abs(w), np.abs(1.0 - np.abs(w)))) for w in weights))


class SolvedAt(keras.callbacks.Callback):
    """Counts the updates of every ``fit`` it is passed to, and notes the count at the end
    of the first epoch whose model's MSE on ``extrapolation`` = (inputs, targets) is below
    ``threshold`` (``solved``, None until then)."""

    def __init__(self, extrapolation, threshold):
        super().__init__()
        self.extrapolation, self.threshold = extrapolation, threshold
        self.steps, self.solved = 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if self.solved is None and _mse(self.model, *self.extrapolation) < self.threshold:
            self.solved = self.steps


def _adam(model_name, decay_steps=None):
    """Adam for ``model_name`` (learning rate 1e-3 for the MLP, 1e-2 for the rest; gradient
    norm clipped at 1); with ``decay_steps``, the rate falls along a cosine to 1% of that
    over so many updates."""
    rate = 1e-3 if model_name == "mlp" else 1e-2
    if decay_steps:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps, alpha=0.01)
    return keras.optimizers.Adam(rate, clipnorm=1.0)


def fit_stable_nalu(model, train, validation, batch_size, callbacks=()):
    """``nalu_stable``'s training on ``train`` = (inputs, targets (count, 1)). The loss is
    the MSE divided by the targets' variance, so the gate and sparsity regularisers weigh
    alike on every operation (a*b's targets vary some 500,000 times more than sqrt(a)'s). The
    "combine" layer's gate trains with its regulariser off for ``GATE_CHOICE_EPOCH`` epochs;
    then, from those weights, one branch per path with the gate set to +-``SATURATED_GATE``
    and the regulariser on, each with a fresh optimizer for the remaining epochs, then
    :func:`polish_snapped_selection`, and in the multiply branch, where it fits better than
    the targets' mean (``SPLIT_BELOW``), :func:`split_selection` (its product of two units has a
    symmetric saddle; the add path's output is linear in the inputs, with no such trap).
    The model ends with the branch whose MSE on ``validation`` (fresh training-range data;
    the extrapolation data is never looked at) is lower. Polished first, the branch on the
    right path can win where its unpolished fit loses: in a range as narrow as U[1, 2] a
    power law also fits a+b. ``callbacks`` go to every ``fit``. Returns the validation MSE
    of the model kept."""
    inputs, targets = train
    variance = float(np.var(targets))
    loss = lambda y, prediction: keras.losses.mean_squared_error(y, prediction) / variance  # noqa: E731
    combine = model.get_layer("combine")
    combine.saturation_scale.assign(0.0)
    model.compile(optimizer=_adam("nalu_stable"), loss=loss)
    model.fit(inputs, targets, batch_size=batch_size, epochs=GATE_CHOICE_EPOCH, verbose=0, callbacks=list(callbacks))
    shared, branches = model.get_weights(), []
    for logit in (SATURATED_GATE, -SATURATED_GATE):
        model.set_weights(shared)
        combine.gate.assign(np.full((combine.units,), logit, "float32"))
        combine.saturation_scale.assign(1.0)
        model.compile(optimizer=_adam("nalu_stable"), loss=loss)
        model.fit(inputs, targets, batch_size=batch_size, epochs=EPOCHS - GATE_CHOICE_EPOCH, verbose=0,
                  callbacks=list(callbacks))
        error = polish_snapped_selection(model, train, validation, batch_size, loss, _mse(model, *validation), callbacks)
        if logit < 0 and error < SPLIT_BELOW * variance:
            error = split_selection(model, train, validation, batch_size, loss, error, callbacks)
        branches.append((error, model.get_weights()))
    error, weights = min(branches, key=lambda branch: branch[0])
    model.set_weights(weights)
    return error


def selection_unit(model):
    """The NAU that picks a and b out of a ``nalu_stable`` model's input: the static model's
    ``select`` layer, or the unit of the recurrent model's accumulating cell."""
    if any(layer.name == "select" for layer in model.layers):
        return model.get_layer("select")
    return model.get_layer("accumulate").cell.inner


def polish_snapped_selection(model, train, validation, batch_size, loss, error, callbacks=()):
    """Snap the selection's weights (see :func:`selection_unit`) to the nearest of -1, 0, 1
    and freeze them; put the combining layer's weights from any selection unit left
    selecting nothing at 0 (its log-path input is then the constant log(eps), so its
    weight would act as a free scale factor c, and c * a^p fits sqrt(a) in range for many
    p), and its other weights within ``GRID_TOLERANCE`` of -1, 0 or 1 there (see
    :func:`snap_nac`); then retrain the rest of ``model`` on ``train`` for
    ``POLISH_EPOCHS`` epochs with ``loss``, the learning rate decaying along a cosine so
    the few weights left settle. Keep that if its MSE on ``validation`` is below ``error``
    (the MSE before), else restore the weights from before. Returns the MSE of the model
    kept."""
    before = model.get_weights()
    selection = selection_unit(model)
    snapped = np.clip(np.round(keras.ops.convert_to_numpy(selection.w)), -1.0, 1.0)
    selection.w.assign(snapped)
    combine = model.get_layer("combine")
    selects_nothing = np.all(snapped == 0, axis=0)
    for path in (combine.add_path, combine.log_path):
        snap_nac(path, selects_nothing)
    selection.trainable = False
    try:
        model.compile(optimizer=_adam("nalu_stable", POLISH_EPOCHS * -(-len(train[0]) // batch_size)), loss=loss)
        model.fit(*train, batch_size=batch_size, epochs=POLISH_EPOCHS, verbose=0, callbacks=list(callbacks))
    finally:
        selection.trainable = True
    polished = _mse(model, *validation)
    if polished < error:
        return polished
    model.set_weights(before)
    return error


def residual_curvature_direction(model, inputs, targets):
    """The input direction along which ``model``'s residual bends most upwards: the
    principal Hessian direction (Li, 1992) of the residual r = prediction - target, the
    eigenvector of the largest eigenvalue of E[(r - mean r) (x - mean x) (x - mean x)^T].

    inputs: (count, features) or, for a recurrent model, (count, steps, features), summed
    over time (what its accumulating selection sees); targets: (count, 1). The first
    ``CURVATURE_SAMPLES`` are used. Returns (features,) float64, scaled so its largest
    entry is +-1. A product fitted by the square of a symmetric sum, ((a + b) / 2)^2 for a*b,
    leaves the residual (a - b)^2 / 4, so the direction is that of a - b's own inputs.
    """
    count = min(len(inputs), CURVATURE_SAMPLES)
    predictions = model.predict(inputs[:count], verbose=0, batch_size=4096)[:, 0].astype("float64")
    residuals = predictions - targets[:count, 0].astype("float64")
    features = inputs[:count].astype("float64")
    features = features.sum(axis=1) if features.ndim == 3 else features
    centred = features - features.mean(axis=0)
    curvature = (centred * (residuals - residuals.mean())[:, None]).T @ centred / count
    direction = np.linalg.eigh(curvature)[1][:, -1]
    return direction / np.abs(direction).max()


def split_selection(model, train, validation, batch_size, loss, error, callbacks=()):
    """Escape the symmetric saddle of a product: scale the two selection units' weights
    (see :func:`selection_unit`) by 1 + v and 1 - v, v the
    :func:`residual_curvature_direction` on ``train``, clipped to [-1, 1]; retrain the whole
    ``model`` for ``SPLIT_EPOCHS`` epochs with ``loss``, then
    :func:`polish_snapped_selection`. Keep that if its MSE on ``validation`` is below
    ``error``, else restore the weights from before. Returns the MSE of the model kept.

    In a range as narrow as U[1, 2], ((a + b) / 2)^2 fits a*b to within 1e-4 of its
    variance, so the log path often settles on two units that each select a and b's own
    inputs alike (and snapped, select the wrong ones). That is a saddle: along the units
    moving apart, the error falls as (1 - t^2)^2, but its pull is too weak to beat the
    optimizer's noise. Split, each unit keeps one of the two slices, and training and the
    snap finish it.
    """
    before = model.get_weights()
    direction = residual_curvature_direction(model, *train)
    selection = selection_unit(model)
    weights = keras.ops.convert_to_numpy(selection.w)
    split = weights * (1.0 + np.stack([direction, -direction], axis=1))
    selection.w.assign(np.clip(split, -1.0, 1.0).astype("float32"))
    model.compile(optimizer=_adam("nalu_stable"), loss=loss)
    model.fit(*train, batch_size=batch_size, epochs=SPLIT_EPOCHS, verbose=0, callbacks=list(callbacks))
    polished = polish_snapped_selection(model, train, validation, batch_size, loss, _mse(model, *validation), callbacks)
    if polished < error:
        return polished
    model.set_weights(before)
    return error


def snap_nac(nac, zero_rows):
    """Put the weights of the :class:`~kerasseq.arithmetic.layers.NAC` ``nac`` (features, units) that lie
    within ``GRID_TOLERANCE`` of -1, 0 or 1, and every weight in the rows (input features)
    where the boolean mask ``zero_rows`` (features,) is set, exactly on -1, 0 or 1 (0 for
    those rows), by their logits. Weights elsewhere are left as they are."""
    weight = keras.ops.convert_to_numpy(nac.weight())
    grid = np.clip(np.round(weight), -1.0, 1.0)
    grid[zero_rows] = 0.0
    snap = (np.abs(weight - grid) <= GRID_TOLERANCE) | zero_rows[:, None]
    w_hat, m_hat = (keras.ops.convert_to_numpy(logits).copy() for logits in (nac.w_hat, nac.m_hat))
    w_hat[snap] = ONE_LOGIT * grid[snap]
    m_hat[snap] = np.where(grid[snap] == 0, ZERO_LOGIT, ONE_LOGIT)
    nac.w_hat.assign(w_hat)
    nac.m_hat.assign(m_hat)


def train_one(kind, model_name, operation, seed, budget):
    """Train one model on one operation with one seed -> dict of scaled interpolation and
    extrapolation errors, the extrapolation MSE and the near-perfect threshold it is judged
    by (:func:`near_perfect_mse`), ``success``, ``solved_at`` (updates until an epoch first
    ended below the threshold, over every start; None if none did), ``steps`` (updates
    used in all), ``sparsity`` (:func:`sparsity_error`) and the number of starts.
    ``kind`` is ``static`` or ``recurrent``. ``nalu_stable`` gets up to
    ``STABLE_NALU_STARTS`` starts: one whose scaled error on fresh training-range data stays
    above ``STUCK`` is re-initialised (iNALU's restart), with the same data, and trains by
    :func:`fit_stable_nalu`; the start with the lowest such error is the one measured.
    ``nalu_stable_1x`` is the same on epochs ``STABLE_SHORTER`` times shorter, so it
    stays within ``budget.steps`` as the other models do."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    architecture = "nalu_stable" if model_name.startswith("nalu_stable") else model_name
    if kind == "static":
        subsets = slices(100, rng)
        make = lambda count, value_range: static_data(operation, subsets, count, value_range, rng)  # noqa: E731
        build = lambda: build_static(architecture, operation)  # noqa: E731
    else:
        subsets = slices(10, rng)
        make = lambda count, value_range, steps=10: recurrent_data(  # noqa: E731
            operation, subsets, count, steps, value_range, rng)
        build = lambda: build_recurrent(architecture, operation)  # noqa: E731
    epoch_steps = budget.steps / (STABLE_SHORTER * EPOCHS if model_name == "nalu_stable_1x" else EPOCHS)
    train_x, train_y = make(int(epoch_steps) * budget.batch_size, INTERPOLATION)
    interpolation = make(5000, INTERPOLATION)
    extrapolation = make(5000, EXTRAPOLATION) if kind == "static" else make(5000, EXTRAPOLATION, 20)
    validation = make(1000, INTERPOLATION)
    threshold = near_perfect_mse(operation, *extrapolation, subsets)
    progress = SolvedAt(extrapolation, threshold)
    best = None
    for start in range(STABLE_NALU_STARTS if architecture == "nalu_stable" else 1):
        if start:
            keras.utils.set_random_seed(seed + 1000 * start)
        model = build()
        random_errors = [_mse(model, *data) for data in (interpolation, extrapolation, validation)]
        if architecture == "nalu_stable":
            error = fit_stable_nalu(model, (train_x, train_y), validation, budget.batch_size, [progress])
        else:
            model.compile(optimizer=_adam(model_name), loss="mse")
            model.fit(train_x, train_y, batch_size=budget.batch_size, epochs=EPOCHS, verbose=0, callbacks=[progress])
            error = _mse(model, *validation)
        error = scaled(error, random_errors[2])
        if best is None or error < best[0]:
            best = error, model, random_errors
        if error < STUCK:
            break
    _, model, random_errors = best
    extrapolation_mse = _mse(model, *extrapolation)
    return {"interpolation": scaled(_mse(model, *interpolation), random_errors[0]),
            "extrapolation": scaled(extrapolation_mse, random_errors[1]), "extrapolation_mse": extrapolation_mse,
            "threshold": threshold, "success": extrapolation_mse < threshold, "solved_at": progress.solved,
            "steps": progress.steps, "sparsity": sparsity_error(model), "starts": start + 1}


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def simple_function_table(kind, budget, operations=tuple(OPERATIONS), models=MODELS, progress=None, pool=None,
                          log=None):
    """Every (operation, model) over the seeds of ``budget`` -> list of rows: the median
    scaled interpolation and extrapolation errors, the success rate (with its 95% Wilson
    interval), the median updates to success over the seeds that succeeded, the median
    sparsity error over those seeds, the median updates used, the starts used and every
    seed's run. ``pool``: a :func:`worker_pool` to train the runs in (default: one after
    the other here); every run seeds itself, so the rows are the same either way. ``log``: a
    :class:`RunLog` whose runs are taken as they are and which gets each new run as it ends
    (default: one in memory)."""
    from kerasseq.ocr.metrics import wilson_interval

    cases = [(operation, model_name) for operation in operations for model_name in models]
    tasks = [(kind, model_name, operation, seed, budget) for operation, model_name in cases for seed in budget.seed_range]
    log = log if log is not None else RunLog()
    missing = [task for task in tasks if log.get(*task) is None]
    trained = (pool.map if pool else map)(train_one, *zip(*missing)) if missing else iter(())
    rows = []
    for operation, model_name in cases:
        case_runs = []
        for seed in budget.seed_range:
            task = (kind, model_name, operation, seed, budget)
            if log.get(*task) is None:
                log.add(task, next(trained))
            case_runs.append(log.get(*task))
        solved = [run for run in case_runs if run["success"]]
        low, high = wilson_interval(len(solved), len(case_runs))
        rows.append({"kind": kind, "operation": operation, "model": model_name,
                     "interpolation": float(np.median([run["interpolation"] for run in case_runs])),
                     "extrapolation": float(np.median([run["extrapolation"] for run in case_runs])),
                     "success": len(solved) / len(case_runs), "success_low": low, "success_high": high,
                     "solved_at": _median([run["solved_at"] for run in solved]),
                     "sparsity": _median([run["sparsity"] for run in solved]),
                     "steps": _median([run["steps"] for run in case_runs]),
                     "seeds": budget.seeds, "first_seed": budget.first_seed,
                     "starts": sum(run["starts"] for run in case_runs), "runs": case_runs})
        if progress:
            progress(rows[-1])
    return rows


class RunLog:
    """Finished :func:`train_one` runs, each appended to a JSON-lines file as it ends, so that
    a table interrupted after hours resumes with only the runs it lacks (``path`` None: kept
    in memory only). A run is known by its kind, model, operation, seed, steps and batch size;
    a last line cut short by a kill is dropped."""

    def __init__(self, path=None):
        self.path, self.runs = path, {}
        if path and os.path.exists(path):
            with open(path, "r+") as handle:
                text = handle.read()
                complete = text.rfind("\n") + 1
                handle.truncate(complete)  # drop a line cut short, so that the next run starts a line of its own
            for line in text[:complete].splitlines():
                entry = json.loads(line)
                self.runs[tuple(entry["key"])] = entry["run"]

    @staticmethod
    def key(kind, model_name, operation, seed, budget):
        return (kind, model_name, operation, seed, budget.steps, budget.batch_size)

    def get(self, kind, model_name, operation, seed, budget):
        """The logged run of these arguments of :func:`train_one`, or None."""
        return self.runs.get(self.key(kind, model_name, operation, seed, budget))

    def add(self, task, run):
        """Keep ``run``, the result of ``train_one(*task)``, and append it to the file."""
        key = self.key(*task)
        self.runs[key] = run
        if self.path:
            with open(self.path, "a") as handle:
                handle.write(json.dumps({"key": key, "run": run}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())


def worker_pool(jobs):
    """An executor for the experiments: ``jobs`` spawned worker processes (each imports
    Keras with this process's ``KERAS_BACKEND`` and turns on the speed routes this process
    has on, so that a run computes alike in any worker), or for ``jobs`` = 1 this process,
    which runs each call when it is submitted (``map`` lazily, as the builtin)."""
    if jobs > 1:
        from kerasseq import accel

        routes = accel.enabled()  # a startup route's setting reaches the workers through the environment
        return concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                      initializer=accel.enable if routes else None,
                                                      initargs=(routes,) if routes else ())
    return _InProcess()


class _InProcess(concurrent.futures.Executor):
    """:func:`worker_pool` with one job: every call runs here, when submitted."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        return map(fn, *iterables)


def counting(seed=0, train_length=10, test_lengths=(100, 1000), epochs=600):
    """Count each digit's occurrences in a sequence of one-hot digits.

    A ``keras.layers.RNN`` of a 10-unit NAC :class:`ArithmeticCell` against an LSTM(64) +
    Dense(10), both trained on sequences of ``train_length`` to output the running counts
    at every step (the running sum; a final count alone leaves the recurrent weight free to
    trade off against the input weights at one length). tanh * sigmoid reaches 1 slowly, so
    the NAC needs the long budget: about 600 epochs of 63 steps for 1e-5 weights.
    Returns {model: {length: share of sequences whose final counts are all exactly right
    (rounded)}}.
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)

    def sequences(count, length):
        digits = rng.integers(0, 10, size=(count, length))
        one_hot = np.eye(10, dtype="float32")[digits]
        return one_hot, one_hot.cumsum(axis=1)

    train_x, train_y = sequences(4000, train_length)
    inputs = keras.Input((None, 10))
    models = {
        "nac": keras.Model(inputs, keras.layers.RNN(ArithmeticCell(10, "nac"), return_sequences=True)(inputs)),
        "lstm": keras.Model(inputs, keras.layers.Dense(10)(keras.layers.LSTM(64, return_sequences=True)(inputs))),
    }
    results = {}
    for name, model in models.items():
        model.compile(optimizer=keras.optimizers.Adam(0.1 if name == "nac" else 1e-2), loss="mse")
        model.fit(train_x, train_y, batch_size=64, epochs=epochs, verbose=0)
        results[name] = {}
        for length in (train_length, *test_lengths):
            test_x, test_y = sequences(200, length)
            predicted = np.rint(model.predict(test_x, verbose=0, batch_size=200)[:, -1])
            results[name][length] = float(np.mean(np.all(predicted == test_y[:, -1], axis=1)))
    return results


def language_to_number(seed=0, epochs=300, held_out=200):
    """Read number words ("five hundred and fifteen") into their value, 0-999.

    Embedding + LSTM(64), then NALU(1) or Dense(1) on the last step. ``held_out`` numbers
    from those whose words combine (21-999, not multiples of 10) are kept for testing, so
    every word is seen in training but test phrases are new combinations. Returns
    {output layer: test mean absolute error}.
    """
    rng = np.random.default_rng(seed)
    phrases = [number_words(n) for n in range(1000)]
    test = rng.choice(composed_numbers(), size=held_out, replace=False)
    train = np.setdiff1d(np.arange(1000), test)
    vocabulary = Vocabulary([phrases[n] for n in train])
    encoded = vocabulary.encode(phrases, max(map(len, phrases)))
    values = np.arange(1000, dtype="float32")[:, None]
    results = {}
    for name, head in (("nalu", lambda: NALU(1, name="value")), ("linear", lambda: keras.layers.Dense(1, name="value"))):
        keras.utils.set_random_seed(seed)
        tokens = keras.Input((None,), dtype="int32")
        features = keras.layers.LSTM(64)(keras.layers.Embedding(len(vocabulary), 32, mask_zero=True)(tokens))
        model = keras.Model(tokens, head()(features))
        model.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=1.0), loss="mse")
        model.fit(encoded[train], values[train], batch_size=64, epochs=epochs, verbose=0)
        predicted = model.predict(encoded[test], verbose=0)
        results[name] = float(np.mean(np.abs(predicted - values[test])))
    return results


def markdown_table(rows):
    """Rows of :func:`simple_function_table` -> a Markdown table, one line per (kind,
    operation), the models side by side as ``extrapolation error (success rate)``."""
    return _table(rows, lambda r: f"{r['extrapolation']:.2f} ({r['success']:.0%})")


def success_table(rows):
    """Rows of :func:`simple_function_table` -> Madsen & Johansen's three numbers per model:
    ``success rate [95% interval] · median updates to success · median sparsity error``
    (a dash where no seed succeeded or the model has no arithmetic weights)."""
    def cell(r):
        steps = "—" if r["solved_at"] is None else f"{r['solved_at']:,.0f}"
        sparsity = "—" if r["sparsity"] is None else f"{r['sparsity']:.1e}"
        return f"{r['success']:.0%} [{r['success_low']:.0%}–{r['success_high']:.0%}] · {steps} · {sparsity}"

    return _table(rows, cell)


def _table(rows, cell):
    models = list(dict.fromkeys(row["model"] for row in rows))
    lines = ["| task | operation | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    for kind, operation in dict.fromkeys((row["kind"], row["operation"]) for row in rows):
        cells = {row["model"]: row for row in rows if (row["kind"], row["operation"]) == (kind, operation)}
        lines.append(f"| {kind} | {operation} | " + " | ".join(cell(cells[m]) for m in models) + " |")
    return "\n".join(lines)


def plot_table(rows, png_path):
    """Bar chart of the median scaled extrapolation error per operation and model (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(row["kind"] for row in rows))
    figure, axes_list = plt.subplots(1, len(kinds), figsize=(7 * len(kinds), 4), squeeze=False)
    for axes, kind in zip(axes_list[0], kinds):
        subset = [row for row in rows if row["kind"] == kind]
        operations = list(dict.fromkeys(row["operation"] for row in subset))
        models = list(dict.fromkeys(row["model"] for row in subset))
        width = 0.8 / len(models)
        for index, model in enumerate(models):
            heights = [next(r["extrapolation"] for r in subset if r["operation"] == op and r["model"] == model)
                       for op in operations]
            axes.bar(np.arange(len(operations)) + index * width, np.maximum(heights, 1e-3), width, label=model)
        axes.set_xticks(np.arange(len(operations)) + 0.4 - width / 2, operations)
        axes.set(yscale="log", ylabel="extrapolation error (random = 100)", title=f"{kind} arithmetic")
        axes.axhline(100, color="grey", linewidth=0.8, linestyle="--")
        axes.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)

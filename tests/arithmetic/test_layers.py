"""NAC, NALU, NAU, NMU and the arithmetic recurrent cell: exact arithmetic once trained,
finite values and gradients at the edges, saving, and use inside RNNs."""

import keras
import numpy as np
import pytest

from kerasseq.arithmetic.experiments import POSITIVE_START
from kerasseq.arithmetic.layers import NAC, NALU, NAU, NMU, ArithmeticCell
from tests.helpers import fit

LAYERS = {"nac": lambda: NAC(2), "nalu": lambda: NALU(2), "nalu_separate": lambda: NALU(2, separate_weights=True),
          "nalu_stable": lambda: NALU(2, separate_weights=True, input_gate=False),
          "nalu_saturating": lambda: NALU(2, separate_weights=True, input_gate=False, gate_saturation=10.0),
          "nau": lambda: NAU(2), "nau_positive": lambda: NAU(2, kernel_initializer=POSITIVE_START),
          "nmu": lambda: NMU(2)}


def test_nalu_learns_a_product_and_extrapolates_ten_times_out_of_range():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    inputs = rng.uniform(1, 2, size=(4096, 2)).astype("float32")
    model = fit(keras.Sequential([keras.Input((2,)), NALU(1)]), inputs, inputs.prod(axis=1, keepdims=True), 0.05, 80)
    far = rng.uniform(10, 20, size=(256, 2)).astype("float32")
    relative = np.abs(model.predict(far, verbose=0)[:, 0] / far.prod(axis=1) - 1)
    # tanh * sigmoid saturates slowly: W settles near 0.997-0.998, so x^W is 1-2% off at 200.
    assert np.median(relative) < 0.025 and np.max(relative) < 0.04


def test_input_free_gate_mixes_both_paths_in_the_same_share_at_any_scale():
    """With input_gate=False the gate is one scalar per unit: sigmoid(0) = 0.5 here, so the
    output is (x1 + x2) / 2 + x1 * x2 / 2 whether the inputs are 1 or 1e3."""
    layer = NALU(1, separate_weights=True, input_gate=False)
    layer.build((None, 2))
    for path in (layer.add_path, layer.log_path):
        path.w_hat.assign(np.full((2, 1), 20.0, "float32"))
        path.m_hat.assign(np.full((2, 1), 30.0, "float32"))
    assert tuple(layer.gate.shape) == (1,)
    inputs = np.array([[1.0, 2.0], [30.0, 0.5], [1e3, 7.0]], "float32")
    expected = 0.5 * inputs.sum(axis=1) + 0.5 * inputs.prod(axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(inputs))[:, 0], expected, rtol=1e-5)


def test_gate_saturation_charges_the_gate_logits_short_of_twenty_unless_held_off():
    layer = NALU(2, input_gate=False, gate_saturation=8.0)
    inputs = np.ones((1, 3), "float32")
    layer.build(inputs.shape)
    for logits, scale, expected in (([0.0, 0.0], 1.0, 8.0), ([-10.0, 30.0], 1.0, 2.0), ([0.0, 0.0], 0.0, 0.0)):
        layer.gate.assign(np.array(logits, "float32"))
        layer.saturation_scale.assign(scale)
        layer(inputs)
        assert float(sum(keras.ops.convert_to_numpy(loss) for loss in layer.losses)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="input_gate=False"):
        NALU(2, gate_saturation=1.0)


def test_gate_saturation_inside_a_recurrent_cell_trains_and_counts_once_per_model():
    """Charged per call, the regulariser would count once per time step (6 here) and, on
    JAX, leak out of the RNN's scan; as a weight regulariser it adds exactly 4 * 1."""
    keras.utils.set_random_seed(8)
    cell = ArithmeticCell(2, "nalu", {"input_gate": False, "gate_saturation": 4.0})
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.RNN(cell)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    data = np.random.default_rng(8).uniform(0.5, 1.5, size=(8, 6, 3)).astype("float32")
    targets = np.ones((8, 2), "float32")
    mse = float(np.mean((model.predict(data, verbose=0) - targets) ** 2))
    assert float(model.train_on_batch(data, targets)) == pytest.approx(mse + 4.0, rel=1e-5)


def test_nau_and_nmu_compute_what_their_weights_say():
    inputs = np.array([[2.0, 3.0, 5.0], [0.0, 4.0, -1.0]], "float32")
    nau, nmu = NAU(1), NMU(1)
    nau.build((None, 3))
    nmu.build((None, 3))
    nau.set_weights([np.array([[1.0], [-1.0], [0.0]], "float32")])
    nmu.set_weights([np.array([[1.0], [1.0], [0.0]], "float32")])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(nau(inputs))[:, 0], [-1.0, -4.0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(nmu(inputs))[:, 0], [6.0, 0.0])


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("row", ["zeros", "mixed", "huge"])
def test_outputs_and_gradients_stay_finite_at_zero_and_for_huge_inputs(name, row):
    # NMU multiplies for real: its huge row must have a product that fits in float32.
    huge = 1e15 if name == "nmu" else 1e30
    inputs = {"zeros": [0.0, 0.0, 0.0], "mixed": [0.0, 1e6, -3.0], "huge": [huge, -huge, 1.0]}[row]
    inputs = np.array([inputs], "float32")
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((3,)), LAYERS[name]()])
    # the absolute error: its gradient is the layer's own, not squared past float32's range
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mae")
    before = [w.copy() for w in model.get_weights()]
    assert np.all(np.isfinite(model.predict(inputs, verbose=0)))
    loss = model.train_on_batch(inputs, np.ones((1, 2), "float32"))
    assert np.isfinite(loss)
    after = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in after)  # every gradient was finite
    if row != "zeros" or name in ("nau", "nau_positive", "nmu"):
        assert any(not np.array_equal(a, b) for a, b in zip(before, after))  # and something was learnt


def test_nac_weight_is_recomputed_so_both_matrices_train():
    """The bug seen in public ports: W built once from the initial Ŵ and M̂, which then never train."""
    keras.utils.set_random_seed(3)
    layer = NAC(2)
    model = keras.Sequential([keras.Input((3,)), layer])
    before = [keras.ops.convert_to_numpy(w).copy() for w in (layer.w_hat, layer.m_hat)]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(np.ones((4, 3), "float32"), np.full((4, 2), 3.0, "float32"))
    after = [keras.ops.convert_to_numpy(w) for w in (layer.w_hat, layer.m_hat)]
    assert all(np.max(np.abs(a - b)) > 1e-4 for a, b in zip(after, before))


def test_nau_and_nmu_weights_stay_clipped_after_updates():
    for layer, low, high in ((NAU(2), -1.0, 1.0), (NMU(2), 0.0, 1.0)):
        model = keras.Sequential([keras.Input((3,)), layer])
        model.compile(optimizer=keras.optimizers.SGD(10.0), loss="mse")
        model.train_on_batch(np.full((4, 3), 2.0, "float32"), np.full((4, 2), 1e3, "float32"))
        weight = model.get_weights()[0]
        assert weight.min() >= low and weight.max() <= high and np.any(weight == high)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_save_and_load_round_trip(name, tmp_path):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(LAYERS[name]()(inputs)))
    data = np.random.default_rng(4).uniform(0.5, 2, size=(5, 3)).astype("float32")
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-5)
    assert type(reloaded.layers[1]) is type(model.layers[1])
    assert reloaded.layers[1].get_config() == model.layers[1].get_config()


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("unit", ["nac", "nalu", "nau", "nmu"])
def test_every_unit_runs_inside_an_rnn_and_reloads(unit, accumulate, tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.RNN(ArithmeticCell(3, unit, accumulate=accumulate))])
    data = np.random.default_rng(5).uniform(0.5, 1.5, size=(4, 6, 2)).astype("float32")
    outputs = model.predict(data, verbose=0)
    assert outputs.shape == (4, 3) and np.all(np.isfinite(outputs))
    model.save(tmp_path / "rnn.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "rnn.keras").predict(data, verbose=0), outputs,
                               rtol=1e-5)


def test_saturated_recurrent_nac_is_an_exact_running_sum_at_any_length():
    cell = ArithmeticCell(1, "nac")
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.RNN(cell)])
    cell.inner.set_weights([np.full((2, 1), 20.0, "float32"), np.full((2, 1), 20.0, "float32")])
    data = np.random.default_rng(6).integers(0, 10, size=(3, 500, 1)).astype("float32")
    np.testing.assert_allclose(model.predict(data, verbose=0)[:, 0], data.sum(axis=(1, 2)), rtol=1e-5)


def test_the_log_path_caps_its_exponent_so_huge_products_stay_finite():
    keras.utils.set_random_seed(2)
    layer = NALU(1, separate_weights=True, input_gate=False)
    model = keras.Sequential([keras.Input((2,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mae")
    for variable in (layer.log_path.w_hat, layer.log_path.m_hat):
        variable.assign(np.full((2, 1), 20.0, "float32"))  # both exponents 1: a x b, and 1e30 x 1e30 overflows
    inputs = np.array([[1e30, 1e30]], "float32")
    assert np.isfinite(model.predict(inputs, verbose=0)).all()
    assert np.isfinite(model.train_on_batch(inputs, np.ones((1, 1), "float32")))
    assert all(np.isfinite(w).all() for w in model.get_weights())

"""NAC, NALU, NAU, NMU and the arithmetic recurrent cell: exact arithmetic once trained,
finite values and gradients at the edges, saving, and use inside RNNs."""

import keras
import numpy as np
import pytest

from kerasseq import arithmetic
from kerasseq.layers import NAC, NALU, NAU, NMU, SATURATED_GATE, ArithmeticCell

LAYERS = {"nac": lambda: NAC(2), "nalu": lambda: NALU(2), "nalu_separate": lambda: NALU(2, separate_weights=True),
          "nalu_stable": lambda: NALU(2, separate_weights=True, input_gate=False),
          "nalu_saturating": lambda: NALU(2, separate_weights=True, input_gate=False, gate_saturation=10.0),
          "nau": lambda: NAU(2), "nau_positive": lambda: NAU(2, kernel_initializer=arithmetic.POSITIVE_START),
          "nmu": lambda: NMU(2)}


def fit(model, inputs, targets, learning_rate, epochs, batch_size=64):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    model.fit(inputs, targets, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def test_nac_weights_saturate_and_sums_are_exact_far_out_of_range():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, size=(2048, 4)).astype("float32")
    targets = (inputs[:, 0] + inputs[:, 1] - inputs[:, 2])[:, None]
    layer = NAC(1)
    model = fit(keras.Sequential([keras.Input((4,)), layer]), inputs, targets, 0.05, 60)
    weight = keras.ops.convert_to_numpy(layer.weight())[:, 0]
    np.testing.assert_allclose(weight, [1, 1, -1, 0], atol=0.02)
    # tanh * sigmoid nears +-1 only as its logits grow: the snap puts the weights on the grid
    arithmetic.snap_nac(layer, np.zeros(4, bool))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.weight())[:, 0], [1, 1, -1, 0])
    far = rng.uniform(-100, 100, size=(256, 4)).astype("float32")
    expected = far[:, 0] + far[:, 1] - far[:, 2]
    # exact to float32 rounding of the three-term sum, 100 times out of the training range
    error = np.abs(model.predict(far, verbose=0)[:, 0] - expected)
    assert np.all(error <= 4 * np.finfo(np.float32).eps * np.abs(far[:, :3]).sum(axis=1))


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


def test_recurrent_stable_nalu_sums_its_selection_exactly_at_any_length():
    model = arithmetic.build_recurrent("nalu_stable", "a*b")
    cell = model.get_layer("accumulate").cell
    assert cell.accumulate and cell.unit == "nau"
    select = np.zeros((10, 2), "float32")
    select[0:2, 0], select[1:3, 1] = 1.0, 1.0  # a = x0 + x1, b = x1 + x2 at each step
    cell.inner.set_weights([select])
    summed = keras.Model(model.inputs, model.get_layer("accumulate").output)
    for length in (10, 200):
        data = np.random.default_rng(length).uniform(1, 2, size=(4, length, 10)).astype("float32")
        expected = np.stack([data[:, :, 0:2].sum(axis=(1, 2)), data[:, :, 1:3].sum(axis=(1, 2))], axis=1)
        np.testing.assert_allclose(summed.predict(data, verbose=0), expected, rtol=1e-5)


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


def test_simple_function_data_and_scale():
    rng = np.random.default_rng(7)
    subsets = arithmetic.slices(100, rng)
    start_a, start_b, length = subsets
    assert length == 25 and start_b - start_a == 12 and start_b + length <= 100
    inputs, targets = arithmetic.static_data("a*b", subsets, 10, (1, 2), rng)
    a, b = inputs[:, start_a:start_a + 25].sum(1), inputs[:, start_b:start_b + 25].sum(1)
    np.testing.assert_allclose(targets[:, 0], a * b, rtol=1e-5)
    assert arithmetic.scaled(0.5, 2.0) == 25.0 and arithmetic.scaled(1e9, 1.0) == arithmetic.WORST_SHOWN


def test_nac_extrapolates_addition_where_the_mlp_fails():
    budget = arithmetic.Budget(steps=600, seeds=1)
    nac = arithmetic.train_one("static", "nac", "a+b", 0, budget)
    mlp = arithmetic.train_one("static", "mlp", "a+b", 0, budget)
    assert nac["extrapolation"] < 1.0 and mlp["extrapolation"] > 10.0, (nac, mlp)


def test_stable_nalu_extrapolates_a_product_where_the_plain_nalu_fails():
    """The NAU selection layer, the saturated gate and restarts take a*b from 'no better than
    random' out of range to a few percent of random's error, on a short budget."""
    budget = arithmetic.Budget(steps=1500, seeds=1)
    stable = arithmetic.train_one("static", "nalu_stable", "a*b", 0, budget)
    plain = arithmetic.train_one("static", "nalu", "a*b", 0, budget)
    assert stable["interpolation"] < 1.0 and stable["extrapolation"] < 10.0 and plain["extrapolation"] > 50.0, (
        stable, plain)


@pytest.mark.parametrize("operation, path_logit", [("a+b", SATURATED_GATE), ("a*b", -SATURATED_GATE)])
def test_stable_nalu_training_keeps_the_gate_branch_that_fits_the_operation(operation, path_logit):
    """Both paths start exact (select a and b; add path a+b, log path a*b): after the free
    epochs, the saturated branch on the path that computes the target fits it and the other
    cannot, and the model that remains is the one with the lower validation error."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    start_a, start_b, length = subsets = arithmetic.slices(100, rng)
    train = arithmetic.static_data(operation, subsets, 1280, arithmetic.INTERPOLATION, rng)
    validation = arithmetic.static_data(operation, subsets, 500, arithmetic.INTERPOLATION, rng)
    model = arithmetic.build_static("nalu_stable", operation)
    selection = np.zeros((100, 2), "float32")
    selection[start_a:start_a + length, 0] = selection[start_b:start_b + length, 1] = 1.0
    model.get_layer("select").w.assign(selection)
    combine = model.get_layer("combine")
    for path in (combine.add_path, combine.log_path):
        path.w_hat.assign(np.full((2, 1), 20.0, "float32"))
        path.m_hat.assign(np.full((2, 1), 20.0, "float32"))
    error = arithmetic.fit_stable_nalu(model, train, validation, batch_size=128)
    assert keras.ops.convert_to_numpy(combine.gate).tolist() == pytest.approx([path_logit], abs=0.5)
    assert float(keras.ops.convert_to_numpy(combine.saturation_scale)) == 1.0
    inputs, targets = validation
    kept_error = np.mean((model.predict(inputs, verbose=0) - targets) ** 2)
    assert error == pytest.approx(kept_error, rel=1e-4) and error < 0.05 * np.var(targets), (error, np.var(targets))


@pytest.mark.parametrize("slice_weight, kept", [(0.8, True), (0.45, False)])
def test_a_snapped_selection_is_kept_only_where_it_fits_better(slice_weight, kept):
    """A selection at 0.8 on the a and b slices snaps to the exact one and, with the combining
    layer retrained, fits a+b better: kept, on the grid. At 0.45 it snaps to nothing, fits
    worse, and every weight from before comes back."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    start_a, start_b, length = subsets = arithmetic.slices(100, rng)
    train = arithmetic.static_data("a+b", subsets, 1280, arithmetic.INTERPOLATION, rng)
    validation = arithmetic.static_data("a+b", subsets, 500, arithmetic.INTERPOLATION, rng)
    model = arithmetic.build_static("nalu_stable", "a+b")
    selection = np.zeros((100, 2), "float32")
    selection[start_a:start_a + length, 0] = selection[start_b:start_b + length, 1] = slice_weight
    model.get_layer("select").w.assign(selection)
    combine = model.get_layer("combine")
    combine.gate.assign(np.full((1,), SATURATED_GATE, "float32"))  # the add path
    combine.add_path.w_hat.assign(np.full((2, 1), 20.0, "float32"))
    combine.add_path.m_hat.assign(np.full((2, 1), 20.0, "float32"))
    before, error = model.get_weights(), arithmetic._mse(model, *validation)
    polished = arithmetic.polish_snapped_selection(model, train, validation, 128, keras.losses.mean_squared_error, error)
    weights = keras.ops.convert_to_numpy(model.get_layer("select").w)
    assert polished == pytest.approx(arithmetic._mse(model, *validation), rel=1e-4)
    if kept:
        expected = np.zeros_like(selection)
        expected[start_a:start_a + length, 0] = expected[start_b:start_b + length, 1] = 1.0
        np.testing.assert_array_equal(weights, expected)
        assert polished < 1e-3 * error, (polished, error)
    else:
        assert polished == error
        for now, then in zip(model.get_weights(), before):
            np.testing.assert_array_equal(now, then)
    assert model.get_layer("select").trainable


def test_snapping_puts_near_grid_nac_weights_exactly_on_it_where_training_leaves_them():
    """Weights within 0.05 of -1, 0 or 1, and every weight of a row marked zero, go exactly
    there; 0.5 is left as it was. Trained hard afterwards (Adam 0.1 toward random targets),
    the snapped weights do not move and the free one does."""
    keras.utils.set_random_seed(0)
    nac = NAC(2)
    model = keras.Sequential([keras.Input((3,)), nac])
    wanted = np.array([[0.97, 0.5], [-0.96, 0.03], [0.2, 0.99]], "float32")
    nac.m_hat.assign(np.full((3, 2), 10.0, "float32"))
    nac.w_hat.assign(np.arctanh(wanted / (1.0 / (1.0 + np.exp(-10.0)))).astype("float32"))
    arithmetic.snap_nac(nac, np.array([False, False, True]))
    snapped = keras.ops.convert_to_numpy(nac.weight())
    expected = np.array([[1.0, 0.5], [-1.0, 0.0], [0.0, 0.0]], "float32")
    grid = np.ones_like(expected, bool)
    grid[0, 1] = False
    np.testing.assert_array_equal(snapped[grid], expected[grid])
    assert snapped[0, 1] == pytest.approx(0.5, abs=1e-6)
    rng = np.random.default_rng(0)
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    model.fit(rng.uniform(-2, 2, (256, 3)), rng.normal(0, 5, (256, 2)), batch_size=32, epochs=3, verbose=0)
    trained = keras.ops.convert_to_numpy(nac.weight())
    np.testing.assert_allclose(trained[grid], expected[grid], rtol=0, atol=1e-15)
    assert abs(trained[0, 1] - 0.5) > 0.01


def test_the_polish_switches_off_a_selection_unit_that_selects_nothing():
    """sqrt(a) from one selection unit near the a slice (0.9) and one near nothing (0.3
    everywhere): snapped, the second unit outputs 0, so its log-path weight w would scale the
    output by eps^w, a free factor that with a wrong exponent also fits the narrow training
    range. The polish switches that weight off (to 0) and settles the first unit's exponent
    at 0.5, so sqrt(a) holds on U[2, 6]."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    start_a, _, length = subsets = arithmetic.slices(100, rng)
    train = arithmetic.static_data("sqrt(a)", subsets, 6400, arithmetic.INTERPOLATION, rng)
    validation = arithmetic.static_data("sqrt(a)", subsets, 500, arithmetic.INTERPOLATION, rng)
    inputs, targets = arithmetic.static_data("sqrt(a)", subsets, 500, arithmetic.EXTRAPOLATION, rng)
    model = arithmetic.build_static("nalu_stable", "sqrt(a)")
    selection = np.full((100, 2), 0.3, "float32")
    selection[:, 0] = 0.0
    selection[start_a:start_a + length, 0] = 0.9
    model.get_layer("select").w.assign(selection)
    combine = model.get_layer("combine")
    combine.gate.assign(np.full((1,), -SATURATED_GATE, "float32"))  # the multiply path
    combine.log_path.w_hat.assign(np.array([[0.5], [0.3]], "float32"))
    combine.log_path.m_hat.assign(np.full((2, 1), 3.0, "float32"))
    error = arithmetic._mse(model, *validation)
    polished = arithmetic.polish_snapped_selection(model, train, validation, 128, keras.losses.mean_squared_error, error)
    exponents = keras.ops.convert_to_numpy(combine.log_path.weight())[:, 0]
    assert polished < 1e-3 * error, (polished, error)
    assert abs(exponents[1]) < 1e-12 and exponents[0] == pytest.approx(0.5, abs=1e-3), exponents
    relative = np.abs(model.predict(inputs, verbose=0) - targets) / targets
    assert relative.max() < 2e-3, relative.max()


def symmetric_product_model(subsets):
    """A static ``nalu_stable`` model on the multiply path that computes ((a + b) / 2)^2: both
    selection units weigh a's and b's own inputs 0.5 and their shared ones 1, both exponents
    are exactly 1. In U[1, 2] it fits a*b to within 1e-4 of its variance."""
    start_a, start_b, length = subsets
    model = arithmetic.build_static("nalu_stable", "a*b")
    selection = np.zeros((100, 2), "float32")
    selection[start_a:start_a + length] += 0.5
    selection[start_b:start_b + length] += 0.5
    model.get_layer("select").w.assign(selection)
    combine = model.get_layer("combine")
    combine.gate.assign(np.full((1,), -SATURATED_GATE, "float32"))
    combine.log_path.w_hat.assign(np.full((2, 1), arithmetic.ONE_LOGIT, "float32"))
    combine.log_path.m_hat.assign(np.full((2, 1), arithmetic.ONE_LOGIT, "float32"))
    return model


def product_problem(count):
    """(subsets, train, validation, extrapolation) for a*b, seeded."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    subsets = arithmetic.slices(100, rng)
    return (subsets, *(arithmetic.static_data("a*b", subsets, size, value_range, rng) for size, value_range in (
        (count, arithmetic.INTERPOLATION), (500, arithmetic.INTERPOLATION), (500, arithmetic.EXTRAPOLATION))))


def test_the_residual_curvature_direction_of_a_symmetric_product_fit_is_a_minus_b():
    """((a + b) / 2)^2 leaves the residual (a - b)^2 / 4: its principal Hessian direction is
    +-1 on a's own inputs, -+1 on b's and near 0 on the shared and unused ones."""
    subsets, (inputs, targets), _, _ = product_problem(20000)
    start_a, start_b, length = subsets
    direction = arithmetic.residual_curvature_direction(symmetric_product_model(subsets), inputs, targets)
    a_minus_b = np.zeros(100)
    a_minus_b[start_a:start_b], a_minus_b[start_a + length:start_b + length] = 1.0, -1.0
    cosine = abs(direction @ a_minus_b) / np.linalg.norm(direction) / np.linalg.norm(a_minus_b)
    assert cosine > 0.95 and np.abs(direction).max() == pytest.approx(1.0), cosine


def test_splitting_the_selection_escapes_the_symmetric_product_fit_the_snap_alone_keeps():
    """From ((a + b) / 2)^2, snapping alone rounds the 0.5 weights away and fits worse, so it is
    refused; split along the residual's curvature, retrained and snapped, each unit selects
    exactly one of a and b, and the product holds on U[2, 6]."""
    subsets, train, validation, (far_inputs, far_targets) = product_problem(6400)
    start_a, start_b, length = subsets
    loss = keras.losses.mean_squared_error
    model = symmetric_product_model(subsets)
    error = arithmetic._mse(model, *validation)
    assert arithmetic.polish_snapped_selection(model, train, validation, 128, loss, error) == error
    split = arithmetic.split_selection(model, train, validation, 128, loss, error)
    assert split < 1e-6 * error and split == pytest.approx(arithmetic._mse(model, *validation), rel=1e-4), (split, error)
    slices = np.zeros((100, 2), "float32")
    slices[start_a:start_a + length, 0] = slices[start_b:start_b + length, 1] = 1.0
    selected = keras.ops.convert_to_numpy(model.get_layer("select").w)
    assert any(np.array_equal(np.abs(selected), order) for order in (slices, slices[:, ::-1])), selected
    relative = np.abs(model.predict(far_inputs, verbose=0) - far_targets) / far_targets
    assert relative.max() < 1e-4, relative.max()


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

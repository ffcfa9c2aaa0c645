"""PyTorch: a functional model's inference replayed from its trace gives Keras's own outputs."""

import types

import keras
import numpy as np
import pytest

from kerasseq.ocr.recognizer import build_crnn
from tests.helpers import routes_restored

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="routes the PyTorch backend only")


@pytest.fixture
def traced(monkeypatch):
    """The trace's switch (``.switch``), with the other PyTorch routes on as the scripts have
    them, and the models run directly (``.runs``: a trace records one run); the suite's
    setting is restored afterwards."""
    from kerasseq import accel
    from kerasseq.accel import torch_inference

    with routes_restored():
        accel.enable(["fused_lstm", "channels_last", "fused_batchnorm", "weight_cache", "lean_inference"])
        runs, direct_run = [], torch_inference._direct_run
        monkeypatch.setattr(torch_inference, "_direct_run", lambda model, inputs: runs.append(model) or direct_run(model, inputs))
        yield types.SimpleNamespace(switch=torch_inference.use_traced_inference, runs=runs)


def read(model, images):
    return keras.ops.convert_to_numpy(model.predict_on_batch(images))


def kept_traces(model):
    from kerasseq.accel import torch_trace

    return list(torch_trace._traces.get(model, {}).values())


@pytest.mark.parametrize("precision,batch", [("float32", 4), ("mixed_bfloat16", 4), ("mixed_bfloat16", 1)])
def test_the_crnn_reads_the_same_from_its_trace_without_running_its_layers_again(traced, precision, batch):
    keras.utils.set_random_seed(0)
    model = build_crnn("small", precision=precision)  # dropout, batch normalisation, bidirectional LSTMs
    images = np.random.default_rng(0).uniform(size=(batch, 32, 128, 1)).astype("float32")
    traced.switch(False)
    expected = read(model, images)  # each layer called directly
    traced.switch(True)
    traced.runs.clear()
    got = [read(model, images) for _ in range(4)]  # PyTorch's executor optimises the graph after its first runs
    assert traced.runs == [model]  # recorded once, then replayed
    assert len(kept_traces(model)) == 1
    for outputs in got:
        assert outputs.shape == expected.shape and outputs.dtype == expected.dtype and np.array_equal(outputs, expected)


def test_reading_from_traces_draws_no_random_numbers(traced):
    # Keras draws dropout masks at inference that no output uses; a training run resumed in a
    # new process records its traces at other points of the random stream than the first run
    import torch

    keras.utils.set_random_seed(0)
    model = build_crnn("small", precision="mixed_bfloat16")
    images = np.random.default_rng(4).uniform(size=(4, 32, 128, 1)).astype("float32")
    traced.switch(True)
    before = torch.get_rng_state()
    for count in (4, 2, 4):  # records two traces
        read(model, images[:count])
    assert torch.equal(torch.get_rng_state(), before)


def test_a_replay_reads_the_weights_as_they_are_at_each_call(traced):
    keras.utils.set_random_seed(0)
    model = build_crnn("small", precision="mixed_bfloat16")
    images = np.random.default_rng(1).uniform(size=(4, 32, 128, 1)).astype("float32")
    traced.switch(True)
    before = read(model, images)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    got = read(model, images)
    traced.switch(False)
    assert not np.array_equal(got, before) and np.array_equal(got, read(model, images))


def test_a_trace_is_kept_per_input_shape_and_routing(traced):
    from kerasseq import accel

    keras.utils.set_random_seed(0)
    model = build_crnn("small")
    images = np.random.default_rng(2).uniform(size=(3, 32, 128, 1)).astype("float32")
    traced.switch(True)
    got = [read(model, images[:2]), read(model, images)]
    assert len(kept_traces(model)) == 2
    traced.switch(False)
    assert np.array_equal(got[0], read(model, images[:2])) and np.array_equal(got[1], read(model, images))
    traced.switch(True)
    accel.disable(["channels_last"])  # recorded with the route's operations: recorded anew
    replayed = read(model, images)
    assert len(kept_traces(model)) == 3
    traced.switch(False)
    assert np.array_equal(replayed, read(model, images))


class SignChoice(keras.layers.Layer):
    """x -> 2x where x sums to more than 0, else -x: a choice by the inputs' values."""

    def call(self, x):
        return x * 2.0 if float(keras.ops.sum(x)) > 0 else -x

    def compute_output_shape(self, input_shape):
        return input_shape


def test_a_model_with_a_layer_that_is_not_keras_s_own_is_run_directly_not_traced(traced):
    # its Python may choose by the inputs' values: a trace would keep the first call's choice
    inputs = keras.Input((3,))
    model = keras.Model(inputs, SignChoice()(inputs))
    traced.switch(True)
    assert np.array_equal(read(model, np.ones((1, 3), "float32")), np.full((1, 3), 2.0))
    assert np.array_equal(read(model, -np.ones((1, 3), "float32")), np.ones((1, 3)))
    assert kept_traces(model) == [None]


def test_a_model_that_assigns_a_variable_when_called_is_run_directly(traced):
    # a stateful LSTM carries its state from batch to batch in variables: a replay would not assign them
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5, 2), batch_size=1)
    model = keras.Model(inputs, keras.layers.LSTM(3, stateful=True)(inputs))
    steps = np.random.default_rng(3).uniform(size=(3, 1, 5, 2)).astype("float32")
    traced.switch(False)
    expected = [read(model, batch) for batch in steps]
    model.layers[1].reset_states()
    traced.switch(True)
    assert all(np.array_equal(read(model, batch), want) for batch, want in zip(steps, expected))
    assert kept_traces(model) == [None]


def test_the_routes_leave_a_trace_that_kerasseq_did_not_start_to_keras():
    import torch

    from kerasseq.accel import torch_trace

    seen = []
    torch.jit.trace(lambda x: seen.append(torch_trace.recorded_elsewhere()) or x * 2, (torch.ones(2),), check_trace=False)
    assert seen == [True] and not torch_trace.recorded_elsewhere()

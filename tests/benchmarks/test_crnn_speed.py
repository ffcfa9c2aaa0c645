"""The CRNN benchmark's pieces measure what they claim: the PyTorch peer is the same
network, decoders read the synthetic outputs back, and every rate follows the time each
step takes."""

import os
import time

import numpy as np
import pytest

from kerasseq.benchmarks import crnn_speed as bench
from kerasseq.ocr.decoding import greedy_decode
from kerasseq.ocr.presets import PRESETS
from kerasseq.ocr.recognizer import build_crnn
from tests.helpers import python_output


@pytest.mark.parametrize("preset", ["blog", "small"])
def test_the_torch_peer_has_the_same_shapes_and_parameter_count(preset):
    torch = pytest.importorskip("torch")
    from kerasseq.benchmarks.torch_peer import TorchCRNN

    peer = TorchCRNN(PRESETS[preset], bench.CHARSET.num_classes)
    ours = build_crnn(preset, charset=bench.CHARSET)
    peer_count = sum(p.numel() for p in peer.parameters())
    ours_count = sum(int(np.prod(w.shape)) for w in ours.trainable_weights)
    # PyTorch's LSTM has two bias vectors per direction where Keras has one: 2 layers x 2 directions x 4 gates
    assert peer_count - ours_count == 2 * 2 * 4 * PRESETS[preset]["lstm_units"]
    assert tuple(peer(torch.zeros(2, 1, 32, 128)).shape) == (31, 2, bench.CHARSET.num_classes)


def test_the_bfloat16_peer_computes_in_bfloat16_and_returns_float32():
    torch = pytest.importorskip("torch")
    from kerasseq.benchmarks.torch_peer import TorchCRNN

    torch.manual_seed(0)
    peer = TorchCRNN(PRESETS["small"], bench.CHARSET.num_classes).eval()
    images = torch.rand(2, 1, 32, 128)
    exact = peer(images)
    peer.bfloat16 = True
    rounded = peer(images)
    assert rounded.dtype == torch.float32
    difference = (rounded - exact).abs().max().item()
    assert 0 < difference < 0.1  # bfloat16's 8-bit mantissa: close, but not float32's result


def test_synthetic_outputs_decode_back_to_their_words():
    words = ["hello", "Keras", "book", "aa", "2024"]
    outputs = bench.word_outputs(words)
    assert outputs.shape == (5, 31, 63)
    assert [r.text for r in greedy_decode(outputs, bench.CHARSET)] == words


def test_synthetic_batches_look_like_training_data():
    images, labels = bench.synthetic_batch(32)
    lengths = (labels > 0).sum(1)
    assert images.shape == (32, 32, 128, 1) and images.dtype == np.uint8 and images.max() > 200
    assert lengths.min() >= 3 and lengths.max() <= 10
    assert np.all(labels[:, :3] > 0) and labels.max() < bench.CHARSET.num_classes


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_speeds_follow_the_time_each_step_takes(precision, monkeypatch):
    built = []
    monkeypatch.setattr(bench, "build_crnn", lambda *a, **k: built.append(k["precision"]) or build_crnn(*a, **k))
    # a delay as long as a step: on a machine shared with another test process, step times
    # vary by a fifth, which a delay much shorter than a step would drown in
    batch, delay = 4, 0.6
    plain = bench.keras_speeds("small", batch, steps=3, warmup=1, precision=precision)
    assert built == [precision]

    class SlowerSteps(bench.StepTimer):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(delay)
            super().on_train_batch_end(batch, logs)

    reading = bench.predict_probabilities
    monkeypatch.setattr(bench, "StepTimer", SlowerSteps)
    monkeypatch.setattr(bench, "predict_probabilities", lambda *args: time.sleep(delay) or reading(*args))
    slowed = bench.keras_speeds("small", batch, steps=3, warmup=1, precision=precision)
    for rate in ("train_img_s", "infer_img_s"):
        # each step now takes `delay` longer: the rate is the batch over the step's time
        assert slowed[rate] == pytest.approx(batch / (batch / plain[rate] + delay), rel=0.3), rate


def test_decoding_rates_cover_every_decoder():
    decoding = bench.decoding_speeds(["cat", "dog"], ["cat", "dog", "cot"], batch=2, beam_batch=2, lexicon_batch=2)
    assert decoding["lexicon_size"] == 3 and min(decoding.values()) > 0


def test_streamed_and_in_memory_fit_are_both_timed(dataset):
    speeds = bench.streamed_vs_memory(str(dataset), batch=16, rounds=1)
    assert speeds["streamed_img_s"] > 0 and speeds["memory_img_s"] > 0
    assert speeds["streamed_share"] == pytest.approx(speeds["streamed_img_s"] / speeds["memory_img_s"])
    assert 0 < speeds["loading_share"] < 1


def test_peak_memory_on_a_cpu_is_the_resident_peak_in_mib():
    grown = np.ones(64 * 2**20 // 8)  # 64 MiB touched
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    peak, device = bench.peak_memory_mb()  # read second: at least the resident size read first, to
    # the kernel's per-thread counting slack (seen: 0.1 MiB under)
    resident_mib = int(status["VmRSS"].split()[0]) / 1024
    total_mib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    assert device == "cpu" and grown.sum() > 0
    assert 64 < 0.99 * resident_mib <= peak < total_mib


def test_a_failed_measurement_is_reported_where_optional_else_raised(capsys):
    from tests.helpers import load_script

    bench_crnn = load_script("bench_crnn")
    assert bench_crnn.measure("keras", "jax", required=False, preset="nonexistent", batch=2, steps=1) is None
    assert "keras on jax {'preset': 'nonexistent'" in capsys.readouterr().err
    with pytest.raises(bench_crnn.KerasseqError, match="failed"):
        bench_crnn.measure("keras", "jax", preset="nonexistent", batch=2, steps=1)


def test_the_memory_allocator_is_read_from_the_memory_map(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f0a1000-7f0a2000 r-xp 00000000 08:01 12 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert bench.memory_allocator(maps) == "system malloc"
    maps.write_text(maps.read_text() + "7f0b1000-7f0b2000 r-xp 00000000 08:01 13 /usr/lib/libjemalloc.so.2\n")
    assert bench.memory_allocator(maps) == "jemalloc"
    assert bench.memory_allocator(tmp_path / "missing") == "system malloc"


TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


@pytest.mark.skipif(not os.path.exists(TCMALLOC), reason="tcmalloc is not installed (apt install libtcmalloc-minimal4)")
def test_a_preloaded_tcmalloc_is_reported_and_glibc_otherwise():
    code = "from kerasseq.benchmarks.crnn_speed import memory_allocator; print(memory_allocator())"
    assert python_output(code, {"LD_PRELOAD": TCMALLOC}) == "tcmalloc"
    assert python_output(code, {"LD_PRELOAD": None}) == "system malloc"

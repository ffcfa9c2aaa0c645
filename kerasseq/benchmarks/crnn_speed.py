"""Measurements behind ``scripts/bench_crnn.py``: CRNN training and inference speed on the
current Keras backend and for the plain PyTorch peer, peak memory, decoding speed, and
``fit`` on a streamed dataset folder against the same images held in memory.

Every speed is images (or sequences, or words) per second from the median of repeated
steps after a warm-up, so compilation and first-call set-up are left out.
"""

import resource
import time

import keras
import numpy as np

from kerasseq.benchmarks.task_speed import StepTimer
from kerasseq.ocr.charset import Charset
from kerasseq.ocr.decoding import Lexicon, beam_search_decode, greedy_decode, lexicon_decode
from kerasseq.ocr.images import normalise
from kerasseq.ocr.inference import predict_probabilities
from kerasseq.ocr.presets import PRESETS, TIME_STEPS
from kerasseq.ocr.recognizer import build_crnn
from kerasseq.training.trainer import compile_recognizer

CHARSET = Charset.from_spec("alnum")
LABEL_LENGTH = 10


def synthetic_batch(batch, seed=0):
    """Random uint8 canvases (batch, 32, 128, 1) and labels (batch, 10) int32 of 3-10
    characters (classes 1..62, 0-padded): the shapes and types of a dataset folder's."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (batch, 32, 128, 1), dtype=np.uint8)
    labels = rng.integers(1, CHARSET.num_classes, size=(batch, LABEL_LENGTH), dtype=np.int32)
    lengths = rng.integers(3, LABEL_LENGTH + 1, size=batch)
    labels[np.arange(LABEL_LENGTH)[None, :] >= lengths[:, None]] = 0
    return images, labels


def _rate(batch, step_seconds):
    return float(batch / np.median(step_seconds))


def peak_memory_mb():
    """Peak memory of this process so far, MiB, and where: ``(MiB, "gpu")`` for the most
    GPU memory the backend's allocator held (PyTorch's ``max_memory_allocated``, JAX's
    ``peak_bytes_in_use``, TensorFlow's ``get_memory_info``) when it computes on a GPU,
    else ``(MiB, "cpu")`` for the peak resident memory (Linux ``ru_maxrss``)."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20, "gpu"
    elif backend == "jax":
        import jax

        device = jax.local_devices()[0]
        if device.platform == "gpu":
            return device.memory_stats()["peak_bytes_in_use"] / 2**20, "gpu"
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, "gpu"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "cpu"


def memory_allocator(maps_path="/proc/self/maps"):
    """The C memory allocator this process runs on: "tcmalloc" or "jemalloc" when one is
    loaded (e.g. through ``LD_PRELOAD``; both keep large blocks for reuse, where glibc maps
    and page-faults each one afresh), else "system malloc" (also where ``maps_path``, this
    process's Linux memory map, cannot be read)."""
    try:
        with open(maps_path) as handle:
            maps = handle.read()
    except OSError:
        return "system malloc"
    for name in ("tcmalloc", "jemalloc"):
        if f"lib{name}" in maps:
            return name
    return "system malloc"


def keras_speeds(preset, batch, steps=8, warmup=3, precision="float32"):
    """Training and inference images/s of ``build_crnn(preset, precision=precision)`` on
    this backend: ``fit`` on in-memory float32 arrays (Adam + CTC), and kerasseq's reading
    path (:func:`~kerasseq.ocr.inference.predict_probabilities`) on one batch of uint8 canvases."""
    keras.utils.set_random_seed(0)
    model = compile_recognizer(build_crnn(preset, charset=CHARSET, precision=precision))
    canvases, labels = synthetic_batch(batch * (steps + warmup))
    timer = StepTimer()
    model.fit(normalise(canvases), labels, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    train = batch * timer.steps_per_second(warmup)
    times = []
    for _ in range(steps + warmup):
        start = time.perf_counter()
        predict_probabilities(model, canvases[:batch], batch)
        times.append(time.perf_counter() - start)
    return {"train_img_s": train, "infer_img_s": _rate(batch, times[warmup:])}


def peer_speeds(preset, batch, steps=8, warmup=3, precision="float32"):
    """The same two numbers for the plain PyTorch peer (:mod:`kerasseq.benchmarks.torch_peer`), in
    float32 or, for ``mixed_bfloat16``, under ``torch.autocast`` in bfloat16."""
    import torch

    from kerasseq.benchmarks.torch_peer import peer_step_times

    torch.manual_seed(0)
    images, labels = synthetic_batch(batch)
    architecture, classes, bfloat16 = PRESETS[preset], CHARSET.num_classes, precision == "mixed_bfloat16"
    train = peer_step_times(architecture, classes, images, labels, steps + warmup, True, bfloat16)[warmup:]
    infer = peer_step_times(architecture, classes, images, labels, steps + warmup, False, bfloat16)[warmup:]
    return {"peer_train_img_s": _rate(batch, train), "peer_infer_img_s": _rate(batch, infer)}


def word_outputs(words, seed=0):
    """Model-like outputs (n, 31, 63) for ``words``: each word's CTC path (blank between
    repeated letters, blanks padding) holds ~0.8 of each step's probability, the rest
    spread at random, so decoders see realistic, mostly confident rows."""
    rng = np.random.default_rng(seed)
    outputs = rng.dirichlet(np.ones(CHARSET.num_classes), size=(len(words), TIME_STEPS)).astype(np.float32) * 0.2
    for row, word in enumerate(words):
        path = []
        for index in CHARSET.encode(word):
            if path and path[-1] == index:
                path.append(0)
            path.append(index)
        path = path[:TIME_STEPS] + [0] * (TIME_STEPS - len(path))
        outputs[row, np.arange(TIME_STEPS), path] += 0.8
    return outputs


def decoding_speeds(words, lexicon_words, batch=1000, beam_width=10, beam_batch=64, lexicon_batch=200):
    """Sequences/s of greedy (``batch`` rows) and beam search (``beam_width``,
    ``beam_batch`` rows) decoding, and words/s of lexicon decoding against
    ``lexicon_words``, on outputs made from ``words``."""
    outputs = word_outputs(words[:batch])
    start = time.perf_counter()
    greedy_decode(outputs, CHARSET)
    greedy = len(outputs) / (time.perf_counter() - start)
    beam_outputs = outputs[:beam_batch]
    beam_search_decode(beam_outputs, CHARSET, beam_width)  # warm-up
    start = time.perf_counter()
    beam_search_decode(beam_outputs, CHARSET, beam_width)
    beam = len(beam_outputs) / (time.perf_counter() - start)
    lexicon = Lexicon(lexicon_words, CHARSET)
    start = time.perf_counter()
    lexicon_decode(outputs[:lexicon_batch], lexicon)
    per_word = lexicon_batch / (time.perf_counter() - start)
    return {"greedy_seq_s": greedy, "beam_seq_s": beam, "lexicon_words_s": per_word, "lexicon_size": len(lexicon.words)}


def streamed_vs_memory(dataset, preset="small", batch=64, rounds=5):
    """``fit`` images/s on the dataset folder streamed from its shards and on the same
    images held in memory, for one compiled model: after a warm-up epoch of each, the two
    alternate for ``rounds`` epochs each and the median epoch time counts, so a neighbour's
    load on a shared machine hits both sides alike. Also the loader's own cost: seconds to
    read one epoch's batches without training, as a share of a streamed epoch."""
    from kerasseq.data.batches import WordImageBatches
    from kerasseq.data.dataset import open_split

    split = open_split(dataset, "train")
    keras.utils.set_random_seed(0)
    model = compile_recognizer(build_crnn(preset, charset=split.charset))
    streamed = WordImageBatches(split, batch, shuffle=True)
    images, labels = split.arrays()
    count = len(streamed) * batch
    images, labels = normalise(images[:count]), labels[:count]
    seconds = {"streamed": [], "memory": []}
    for round_index in range(rounds + 1):
        for source in seconds:
            timer = EpochTimer()
            if source == "streamed":
                model.fit(streamed, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
            else:
                model.fit(images, labels, batch_size=batch, epochs=1, verbose=0, callbacks=[timer])
            if round_index:  # round 0 compiles and warms up
                seconds[source] += timer.seconds
    start = time.perf_counter()
    for index in range(len(streamed)):
        streamed[index]
    loading = time.perf_counter() - start
    speeds = {f"{source}_img_s": count / float(np.median(times)) for source, times in seconds.items()}
    speeds["streamed_share"] = speeds["streamed_img_s"] / speeds["memory_img_s"]
    speeds["loading_share"] = loading * speeds["streamed_img_s"] / count
    return speeds


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, in ``seconds``."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)

"""Evaluating a recogniser on a labels file or a dataset folder."""

import time

import numpy as np

from kerasseq.data.dataset import open_split, read_manifests
from kerasseq.data.sources import find_source
from kerasseq.errors import DataError
from kerasseq.ocr.metrics import recognition_report
from kerasseq.ocr.predictor import Prediction


def evaluate(predictor, source, split="val", limit=0, progress=False):
    """Read every labelled image of ``source`` (a dataset folder, a labels .tsv, or any
    layout :func:`kerasseq.data.sources.find_source` reads) and score the readings.

    Returns (report dict with word_accuracy, word_accuracy_nocase, cer, ned,
    images_per_second, count, unreadable; list of (Prediction, truth) pairs).
    """
    if _is_dataset(source):
        pairs, seconds = _evaluate_dataset(predictor, source, split, limit)
    else:
        items = find_source(source).items
        items = items[:limit] if limit else items
        started = time.perf_counter()
        predictions = predictor.read_files([item.path for item in items], progress=progress)
        seconds = time.perf_counter() - started
        pairs = list(zip(predictions, [item.text for item in items]))
    read = [(p, t) for p, t in pairs if not p.error]
    if not read:
        raise DataError(f"no image of {source} could be read")
    report = recognition_report([p.text for p, _ in read], [t for _, t in read])
    report.update(images_per_second=len(pairs) / max(seconds, 1e-9), count=len(pairs), unreadable=len(pairs) - len(read))
    return report, pairs


def _is_dataset(source):
    try:
        read_manifests(source)
        return True
    except DataError:
        return False


def _evaluate_dataset(predictor, folder, split, limit):
    dataset = open_split(folder, split)
    if len(dataset) == 0:
        raise DataError(f"the {split} split of {folder} is empty")
    if dataset.mode != predictor.model.preprocess_mode:
        raise DataError(f"{folder} was preprocessed in {dataset.mode!r} mode but the model expects {predictor.model.preprocess_mode!r}")
    count = min(limit or len(dataset), len(dataset))
    images, _ = dataset.gather(*dataset.locate(np.arange(count)))
    sources = [s for shard in dataset.shards for s in shard.sources][:count]
    started = time.perf_counter()
    readings = predictor.read_canvases(images)
    seconds = time.perf_counter() - started
    predictions = [Prediction(path, r.text, r.confidence) for path, r in zip(sources, readings)]
    return list(zip(predictions, dataset.texts[:count])), seconds


def write_errors(pairs, path):
    """TSV of the misread items: path, truth, reading, confidence (or the read error)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("path\ttruth\tpredicted\tconfidence\terror\n")
        for prediction, truth in pairs:
            if prediction.error or prediction.text != truth:
                handle.write(f"{prediction.path}\t{truth}\t{prediction.text}\t{prediction.confidence:.4f}\t{prediction.error}\n")

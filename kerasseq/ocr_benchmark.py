"""A recogniser against Tesseract on the same labelled images (the splits of
:mod:`data_prep.benchmark_splits`): word accuracy, CER and images/s for each reader."""

import time

from kerasseq.metrics import recognition_report
from kerasseq.sources import find_source
from kerasseq.tesseract import read_with_tesseract


def _row(reader, split, texts, truth, seconds):
    return {"reader": reader, "split": split, "images": len(truth), **recognition_report(texts, truth),
            "images_s": len(truth) / max(seconds, 1e-9)}


def compare(predictor, folders, tesseract=None):
    """Read every split with ``predictor`` (a :class:`kerasseq.predictor.Predictor`) and,
    when ``tesseract`` (an executable path) is given, with Tesseract restricted to the
    model's characters.

    folders: {split: folder with labels.tsv}. Returns one dict per (split, reader) with
    reader, split, images, word_accuracy, word_accuracy_nocase, cer, ned and images_s
    (wall-clock, files read from disk by each reader, after one warm-up batch of the
    model's batch size, whose shape every timed batch shares).
    """
    rows = []
    for index, (split, folder) in enumerate(folders.items()):
        items = find_source(folder).items
        paths, truth = [item.path for item in items], [item.text for item in items]
        if index == 0:  # the first full batch builds the backend's predict function: not reading speed
            predictor.read_files(paths[: predictor.batch_size])
        start = time.perf_counter()
        predictions = predictor.read_files(paths)
        seconds = time.perf_counter() - start
        rows.append(_row("kerasseq", split, [p.text for p in predictions], truth, seconds))
        if tesseract:
            texts, seconds = read_with_tesseract(paths, predictor.model.charset.characters, executable=tesseract)
            rows.append(_row("tesseract", split, texts, truth, seconds))
    return rows


def format_table(rows):
    """Markdown table of :func:`compare`'s rows."""
    lines = ["| split | reader | images | word accuracy | 95% interval | ignoring case | CER | images/s |",
             "|---|---|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['split']} | {r['reader']} | {r['images']} | {r['word_accuracy']:.3f} "
                     f"| {r['word_accuracy_low']:.3f}-{r['word_accuracy_high']:.3f} "
                     f"| {r['word_accuracy_nocase']:.3f} | {r['cer']:.3f} | {r['images_s']:.0f} |")
    return "\n".join(lines)

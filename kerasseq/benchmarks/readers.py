"""A recogniser against peer readers (Tesseract, EasyOCR) on the same labelled images (the
splits of :mod:`data_prep.benchmark_splits`): word accuracy with its 95% interval, CER and
images/s for each reader, per split and per font family."""

import csv
import os
import time

from kerasseq.ocr.metrics import recognition_report


def labelled_images(folder):
    """The rows of ``folder/labels.tsv`` as (image path, text, font file name)."""
    with open(os.path.join(folder, "labels.tsv"), encoding="utf-8", newline="") as handle:
        return [(os.path.join(folder, row[0]), row[1], row[2]) for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]


def _row(reader, group, texts, truth, seconds=None):
    row = {"reader": reader, "split": group, "images": len(truth), **recognition_report(texts, truth)}
    if seconds is not None:
        row["images_s"] = len(truth) / max(seconds, 1e-9)
    return row


def compare(predictor, folders, peers=None, family_of=None):
    """Read every split with ``predictor`` (a :class:`kerasseq.ocr.predictor.Predictor`) and
    with each peer restricted to the model's characters.

    folders: {split: folder with labels.tsv}; peers: {name: read(paths, characters) ->
    (texts, seconds)}, e.g. :func:`kerasseq.benchmarks.tesseract.read_with_tesseract`;
    family_of: {font file name: family}, for the per-family rows. Returns (split rows,
    family rows): one dict per (split, reader) with reader, split, images,
    word_accuracy and its Wilson interval (word_accuracy_low, word_accuracy_high),
    word_accuracy_nocase, cer, ned and images_s (wall-clock: the model reads files from
    disk after one warm-up batch of its batch size, whose shape every timed batch
    shares; each peer as its reader reports), and one per (family, reader) over every
    split, keyed the same with the family in ``split``.
    """
    peers = peers or {}
    characters = predictor.model.charset.characters
    rows, readings = [], {name: ([], [], []) for name in ["kerasseq", *peers]}  # (texts, truth, fonts)
    for index, (split, folder) in enumerate(folders.items()):
        images = labelled_images(folder)
        paths, truth, fonts = [i[0] for i in images], [i[1] for i in images], [i[2] for i in images]
        if index == 0:  # the first full batch builds the backend's predict function: not reading speed
            predictor.read_files(paths[: predictor.batch_size])
        start = time.perf_counter()
        texts = [p.text for p in predictor.read_files(paths)]
        results = {"kerasseq": (texts, time.perf_counter() - start)}
        for name, read in peers.items():
            results[name] = read(paths, characters)
        for name, (texts, seconds) in results.items():
            rows.append(_row(name, split, texts, truth, seconds))
            for collected, values in zip(readings[name], (texts, truth, fonts)):
                collected.extend(values)
    family_rows = []
    if family_of is not None:
        for name, (texts, truth, fonts) in readings.items():
            families = {}
            for text, word, font in zip(texts, truth, fonts):
                read, expected = families.setdefault(family_of.get(font, font), ([], []))
                read.append(text)
                expected.append(word)
            family_rows += [_row(name, family, *pair) for family, pair in sorted(families.items())]
    return rows, family_rows


def format_table(rows, group="split"):
    """Markdown table of :func:`compare`'s rows (``group``: the first column's title)."""
    timed = all("images_s" in r for r in rows)
    lines = [f"| {group} | reader | images | word accuracy | 95% interval | ignoring case | CER |" + (" images/s |" if timed else ""),
             "|---|---|---:|---:|---|---:|---:|" + ("---:|" if timed else "")]
    for r in rows:
        lines.append(f"| {r['split']} | {r['reader']} | {r['images']} | {r['word_accuracy']:.3f} "
                     f"| {r['word_accuracy_low']:.3f}-{r['word_accuracy_high']:.3f} "
                     f"| {r['word_accuracy_nocase']:.3f} | {r['cer']:.3f} |" + (f" {r['images_s']:.0f} |" if timed else ""))
    return "\n".join(lines)

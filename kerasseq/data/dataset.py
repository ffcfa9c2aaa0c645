"""The on-disk dataset format: uint8 image shards, encoded labels and a manifest.

A dataset folder holds, per split (``train``, ``val``), shards of three files each::

    train/00000.images.npy   (n, 32, 128, 1) uint8, memory-mappable
    train/00000.labels.npy   (n, MAX_LABEL_LENGTH) int16, classes 1..N padded with 0
    train/00000.json         {"count", "texts", "sources", "skipped", "digest"}: written last

and a ``manifest.json`` (or ``manifest.partIofN.json`` for one of several parts built
on different machines), written after every shard is complete. A shard counts only
once its ``.json`` exists, and every file is written to a temporary name and renamed
into place, so a run killed at any moment never leaves a shard that looks complete.
"""

import glob
import json
import os

import numpy as np

from kerasseq import atomic
from kerasseq.errors import DataError
from kerasseq.ocr.charset import Charset
from kerasseq.ocr.images import CANVAS_HEIGHT, CANVAS_WIDTH
from kerasseq.ocr.presets import TIME_STEPS

#: The CRNN emits 31 steps, so no label it can learn is longer than this.
MAX_LABEL_LENGTH = TIME_STEPS
SPLITS = ("train", "val")
FORMAT_VERSION = 1


def manifest_name(part_index=0, num_parts=1):
    """File name of the manifest for one part of a dataset built in ``num_parts`` parts."""
    return "manifest.json" if num_parts == 1 else f"manifest.part{part_index}of{num_parts}.json"


def write_shard(split_dir, name, images, labels, texts, sources, skipped, digest):
    """Write one complete shard into ``split_dir``.

    images: (n, 32, 128, 1) uint8; labels: (n, MAX_LABEL_LENGTH) int16; texts and
    sources: n strings; skipped: [path, reason] pairs of the inputs left out; digest: a
    string identifying the inputs the shard was made from.
    """
    os.makedirs(split_dir, exist_ok=True)
    base = os.path.join(split_dir, name)
    for path, array in ((f"{base}.images.npy", images), (f"{base}.labels.npy", labels)):
        with atomic.replacing_file(path) as handle:
            np.save(handle, array)
    atomic.write_json(
        f"{base}.json", {
            "count": len(texts),
            "texts": list(texts),
            "sources": list(sources),
            "skipped": [list(pair) for pair in skipped],
            "digest": digest,
        },
        indent=None,
    )


def read_shard_meta(split_dir, name):
    """The ``.json`` of shard ``name``: count, texts, sources, skipped, digest."""
    with open(os.path.join(split_dir, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def shard_is_complete(split_dir, name, digest):
    """True if shard ``name`` exists whole and was made from inputs with ``digest``."""
    base = os.path.join(split_dir, name)
    try:
        meta = read_shard_meta(split_dir, name)
        images = np.load(f"{base}.images.npy", mmap_mode="r")
        labels = np.load(f"{base}.labels.npy", mmap_mode="r")
    except (OSError, ValueError):
        return False
    return meta.get("digest") == digest and len(images) == len(labels) == meta.get("count")


class Shard:
    """One shard, memory-mapped: ``images`` (n, 32, 128, 1) uint8, ``labels`` (n, L) int16."""

    def __init__(self, split_dir, name):
        meta = read_shard_meta(split_dir, name)
        base = os.path.join(split_dir, name)
        self.texts = meta["texts"]
        self.sources = meta["sources"]
        self.images = np.load(f"{base}.images.npy", mmap_mode="r")
        self.labels = np.load(f"{base}.labels.npy", mmap_mode="r")

    def __len__(self):
        return len(self.texts)


class DatasetSplit:
    """All shards of one split, from one or more dataset folders, read as one sequence."""

    def __init__(self, shards, charset, mode):
        self.shards = [shard for shard in shards if len(shard)]
        self.charset = charset
        self.mode = mode
        self.sizes = np.array([len(s) for s in self.shards], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])

    def __len__(self):
        return int(self.offsets[-1])

    @property
    def texts(self):
        """Every label text, in dataset order."""
        return [text for shard in self.shards for text in shard.texts]

    @property
    def max_label_length(self):
        """Longest label in the split (at least 1)."""
        return max([1] + [int((s.labels != 0).sum(axis=1).max()) for s in self.shards])

    def gather(self, shard_ids, local_ids, label_length=MAX_LABEL_LENGTH):
        """Rows by (shard, row) -> images (n, 32, 128, 1) uint8, labels (n, label_length) int32."""
        images = np.empty((len(local_ids), CANVAS_HEIGHT, CANVAS_WIDTH, 1), dtype=np.uint8)
        labels = np.empty((len(local_ids), label_length), dtype=np.int32)
        for shard_id in np.unique(shard_ids):
            rows = np.nonzero(shard_ids == shard_id)[0]
            shard = self.shards[shard_id]
            local = local_ids[rows]
            order = np.argsort(local)  # sorted reads are kinder to memory maps
            images[rows[order]] = shard.images[local[order]]
            labels[rows[order]] = shard.labels[local[order], :label_length]
        return images, labels

    def locate(self, indexes):
        """Global row numbers -> (shard ids, rows within those shards)."""
        indexes = np.asarray(indexes, dtype=np.int64)
        shard_ids = np.searchsorted(self.offsets, indexes, side="right") - 1
        return shard_ids, indexes - self.offsets[shard_ids]

    def arrays(self):
        """The whole split in memory: images (n, 32, 128, 1) uint8, labels (n, L) int32."""
        return self.gather(*self.locate(np.arange(len(self))), label_length=self.max_label_length)


def read_manifests(folder):
    """The manifests of a dataset folder; DataError if there are none."""
    if not os.path.isdir(folder):
        raise DataError(f"dataset folder not found: {folder}")
    paths = sorted(glob.glob(os.path.join(folder, "manifest*.json")))
    if not paths:
        raise DataError(
            f"{folder} is not a kerasseq dataset (no manifest.json); build one with data_prep/preprocess.py"
        )
    manifests = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                manifests.append(json.load(handle))
        except (OSError, ValueError) as error:
            raise DataError(f"cannot read {path}: {error}") from None
    return manifests


def open_split(folders, split):
    """Split ``split`` of one or more dataset folders as one :class:`DatasetSplit`.

    All parts must share one charset and preprocessing mode; DataError otherwise.
    """
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    shards, charsets, modes = [], set(), set()
    for folder in folders:
        for manifest in read_manifests(folder):
            charsets.add(manifest["charset"])
            modes.add(manifest["mode"])
            for name in manifest["shards"].get(split, []):
                shards.append(Shard(os.path.join(folder, split), name))
    if len(charsets) > 1:
        raise DataError(f"dataset parts disagree on the charset ({len(charsets)} different); rebuild with one --charset")
    if len(modes) > 1:
        raise DataError(f"dataset parts disagree on the preprocessing mode: {sorted(modes)}")
    return DatasetSplit(shards, Charset(charsets.pop()), modes.pop())

"""Finding the labelled word images of a source, whatever its layout.

Three layouts are read:

* a folder with ``labels.tsv`` (or the ``.tsv`` file itself): ``relative/path<TAB>text``,
  optionally followed by ``<TAB>font<TAB>split`` as ``render_words.py`` writes;
* MJSynth: an ``annotation*.txt`` list (``./2697/6/466_MONIKER_49537.jpg 49537``), or a
  folder holding ``annotation.txt``, or any folder of files named ``<n>_<Word>_<m>.jpg``;
* a plain folder of images named by their text (``hello.png`` reads "hello").
"""

import dataclasses
import os
import re

from kerasseq.errors import DataError
from kerasseq.ocr.images import is_image_path

MJSYNTH_NAME = re.compile(r"^\d+_(.+)_\d+$")


@dataclasses.dataclass(frozen=True)
class Item:
    """One labelled image: its path, its text and, when the source says so, its split and
    the font file it was drawn in."""

    path: str
    text: str
    split: str = ""
    font: str = ""


@dataclasses.dataclass
class Source:
    """What a source holds: its items, and files found but not usable (path, reason)."""

    description: str
    items: list
    rejected: list


def text_from_filename(path):
    """Label from a file name: MJSynth's ``<n>_<Word>_<m>.jpg`` gives Word, else the stem."""
    stem = os.path.splitext(os.path.basename(path))[0]
    match = MJSYNTH_NAME.match(stem)
    return match.group(1) if match else stem


def read_labels_tsv(path):
    """Items of a ``labels.tsv``; paths relative to its folder; DataError on bad rows."""
    root = os.path.dirname(os.path.abspath(path))
    items = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) < 2:
                raise DataError(f"{path}:{number}: expected 'relative/path<TAB>text', got {line[:60]!r}")
            font = fields[2] if len(fields) > 2 else ""
            split = fields[3] if len(fields) > 3 else ""
            items.append(Item(os.path.join(root, fields[0]), fields[1], split, font))
    return items


def read_mjsynth_annotation(path):
    """Items of an MJSynth ``annotation*.txt``: ``./dir/n_Word_m.jpg lexicon-index`` per line."""
    root = os.path.dirname(os.path.abspath(path))
    items = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            relative = fields[0]
            stem = os.path.splitext(os.path.basename(relative))[0]
            if not MJSYNTH_NAME.match(stem):
                raise DataError(f"{path}:{number}: {relative!r} is not an MJSynth name like 1_Word_2.jpg")
            items.append(Item(os.path.normpath(os.path.join(root, relative)), text_from_filename(relative)))
    return items


def walk_images(folder):
    """Items for every image below ``folder`` (sorted), labelled from file names, and
    the other files found, as (path, reason) pairs."""
    items, rejected = [], []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            if is_image_path(name):
                items.append(Item(path, text_from_filename(name)))
            else:
                rejected.append((path, f"not an image file ({os.path.splitext(name)[1] or 'no extension'})"))
    return items, rejected


def find_source(source):
    """Read ``source`` (folder, labels.tsv or annotation file) into a :class:`Source`."""
    if not os.path.exists(source):
        raise DataError(f"source not found: {source}")
    if os.path.isfile(source):
        name = os.path.basename(source).lower()
        if name.endswith(".tsv"):
            return Source(f"labels file {source}", read_labels_tsv(source), [])
        if name.startswith("annotation") and name.endswith(".txt"):
            return Source(f"MJSynth annotation {source}", read_mjsynth_annotation(source), [])
        raise DataError(f"{source} is neither a folder, a labels .tsv nor an MJSynth annotation*.txt")
    labels = os.path.join(source, "labels.tsv")
    if os.path.isfile(labels):
        return Source(f"labels file {labels}", read_labels_tsv(labels), [])
    annotation = os.path.join(source, "annotation.txt")
    if os.path.isfile(annotation):
        return Source(f"MJSynth annotation {annotation}", read_mjsynth_annotation(annotation), [])
    items, rejected = walk_images(source)
    if not items:
        raise DataError(f"no images found in {source} (looked for {', '.join(('labels.tsv', 'annotation.txt'))} and image files)")
    return Source(f"image folder {source}", items, rejected)

"""Building a dataset folder from a source of labelled word images, in parallel.

The plan is deterministic: items keep the source's order, each split is cut into
shards of ``shard_size`` consecutive items, and each shard is identified by a digest
of its inputs and settings. A rerun skips shards already complete with the same
digest, so a run killed at any point finishes on the next try with exactly the bytes
an uninterrupted run writes.
"""

import dataclasses
import glob
import hashlib
import multiprocessing
import os
import socket
import time
import zlib

import numpy as np
from tqdm import tqdm

from kerasseq import atomic
from kerasseq.data.dataset import (
    FORMAT_VERSION,
    MAX_LABEL_LENGTH,
    SPLITS,
    manifest_name,
    read_shard_meta,
    shard_is_complete,
    write_shard,
)
from kerasseq.data.sources import find_source
from kerasseq.errors import DataError, KerasseqError
from kerasseq.ocr.charset import DEFAULT_CHARSET, Charset, steps_needed
from kerasseq.ocr.images import CANVAS_HEIGHT, CANVAS_WIDTH, MODES, load_canvas

VALIDATION_NAMES = {"val", "valid", "validation", "test"}
SPLIT_METHODS = ("auto", "every", "column", "random")
CHUNK_SIZE = 256


@dataclasses.dataclass
class PreprocessConfig:
    """Settings of one preprocessing run (the ``preprocess.py`` options)."""

    mode: str = "resize"
    limit: int = 0
    workers: int = 0
    split: str = "auto"
    val_every: int = 10
    val_fraction: float = 0.1
    seed: int = 0
    charset: str = DEFAULT_CHARSET
    shard_index: int = 0
    num_shards: int = 1
    shard_size: int = 10_000

    def check(self):
        """Raise DataError for settings that cannot work."""
        if self.mode not in MODES:
            raise DataError(f"unknown --mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.split not in SPLIT_METHODS:
            raise DataError(f"unknown --split {self.split!r}; use one of {', '.join(SPLIT_METHODS)}")
        if self.num_shards < 1 or not 0 <= self.shard_index < self.num_shards:
            raise DataError(f"--shard-index {self.shard_index} must be in 0..{self.num_shards - 1}")
        if self.val_every < 0 or self.limit < 0 or self.shard_size < 1 or self.workers < 0:
            raise DataError("--val-every, --limit and --workers must be >= 0 and --shard-size >= 1")


def assign_split(position, item, method, config):
    """'train' or 'val' for the item at ``position`` in the source's order."""
    if method == "column":
        return "val" if item.split.lower() in VALIDATION_NAMES else "train"
    if method == "random":
        draw = zlib.crc32(f"{config.seed}:{item.path}".encode()) / 2**32
        return "val" if draw < config.val_fraction else "train"
    if config.val_every == 0:
        return "train"
    return "val" if position % config.val_every == 0 else "train"


def label_problems(texts, charset):
    """For each text, why it cannot be a CTC label for a 31-step model, or ''."""
    problems = []
    for text in texts:
        unknown = charset.unknown_characters(text)
        problems.append("empty label" if not text else
                        f"label {text!r} has characters outside the charset: {unknown!r}" if unknown else "")
    spellable = [row for row, problem in enumerate(problems) if not problem]
    if spellable:
        steps = steps_needed(charset.encode_padded([texts[row] for row in spellable]))
        for row, needed in zip(spellable, steps):
            if needed > MAX_LABEL_LENGTH:
                problems[row] = f"label {texts[row]!r} needs {needed} CTC steps, more than the model's {MAX_LABEL_LENGTH}"
    return problems


def label_problem(text, charset):
    """Why ``text`` cannot be a CTC label for a 31-step model, or '' if it can."""
    return label_problems([text], charset)[0]


@dataclasses.dataclass
class ShardPlan:
    """One shard to write: its split, file name, input items and digest."""

    split: str
    name: str
    items: list
    digest: str


def plan_shards(source, config):
    """(charset, shard plans, items rejected before decoding as (path, reason), split method)."""
    items = source.items[: config.limit] if config.limit else list(source.items)
    method = config.split
    if method == "auto":
        method = "column" if any(item.split for item in items) else "every"
    charset = Charset.from_texts(i.text for i in items) if config.charset == "auto" else Charset.from_spec(config.charset)
    rejected = list(source.rejected)
    by_split = {split: [] for split in SPLITS}
    positions = range(config.shard_index, len(items), config.num_shards)
    problems = label_problems([items[position].text for position in positions], charset)
    for position, problem in zip(positions, problems):
        item = items[position]
        if problem:
            rejected.append((item.path, problem))
        else:
            by_split[assign_split(position, item, method, config)].append(item)
    prefix = "" if config.num_shards == 1 else f"part{config.shard_index}of{config.num_shards}-"
    plans = []
    for split, split_items in by_split.items():
        for start in range(0, len(split_items), config.shard_size):
            chunk = split_items[start : start + config.shard_size]
            digest = hashlib.sha1(f"{FORMAT_VERSION}\0{config.mode}\0{charset.characters}".encode())
            for item in chunk:
                digest.update(f"\0{item.path}\0{item.text}".encode())
            plans.append(ShardPlan(split, f"{prefix}{start // config.shard_size:05d}", chunk, digest.hexdigest()))
    return charset, plans, rejected, method


def _preprocess_chunk(task):
    """Worker: (paths, mode, scratch .npy path, first row) -> reasons ('' where read).

    The canvases go straight into rows first_row.. of the scratch file, memory-mapped:
    sending them back through a pipe was the bottleneck (9 s per 80 MB here).
    """
    paths, mode, scratch, first_row = task
    canvases = np.asarray(np.load(scratch, mmap_mode="r+"))  # plain view: cheaper row writes
    reasons = []
    for row, path in enumerate(paths, start=first_row):
        try:
            canvases[row, :, :, 0] = load_canvas(path, mode)
            reasons.append("")
        except KerasseqError as error:
            reasons.append(str(error))
        except Exception as error:  # a decoder bug must cost one image, not the run
            reasons.append(f"unexpected {type(error).__name__}: {error}")
    return reasons  # no flush: the shared mapping is coherent with the main process


class OutputLock:
    """Refuses a second run writing the same part of the same output folder."""

    def __init__(self, folder, name):
        self.path = os.path.join(folder, f".lock-{name}")

    def __enter__(self):
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self._stale():
                    os.remove(self.path)
                    continue
                raise DataError(
                    f"another preprocessing run is writing to {os.path.dirname(self.path)} "
                    f"(lock {self.path}); wait for it, or delete the lock if that run is dead"
                ) from None
            with os.fdopen(descriptor, "w") as handle:
                handle.write(f"{socket.gethostname()} {os.getpid()}\n")
            return self
        raise DataError(f"cannot take the lock {self.path}")

    def _stale(self):
        try:
            host, pid = open(self.path).read().split()
        except (OSError, ValueError):
            return False
        if host != socket.gethostname():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def __exit__(self, *exc):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


def _scratch_path(out, plan):
    """Where a shard's canvases are assembled before it is written."""
    return os.path.join(out, plan.split, f"{plan.name}.scratch.tmp{os.getpid()}")


def _write_planned_shard(out, plan, reasons, charset):
    """Write the shard of ``plan`` from its scratch canvases, keeping rows read well."""
    scratch = _scratch_path(out, plan)
    kept = [row for row, reason in enumerate(reasons) if not reason]
    items = [plan.items[row] for row in kept]
    images = np.load(scratch, mmap_mode="r")[kept]
    labels = charset.encode_padded([item.text for item in items], MAX_LABEL_LENGTH).astype(np.int16)
    skipped = [(plan.items[row].path, reason) for row, reason in enumerate(reasons) if reason]
    write_shard(
        os.path.join(out, plan.split),
        plan.name,
        images,
        labels,
        [item.text for item in items],
        [item.path for item in items],
        skipped,
        plan.digest,
    )
    os.remove(scratch)


def build_dataset(source_path, out, config=None, progress=True, timings=None):
    """Preprocess ``source_path`` into the dataset folder ``out``; returns the manifest.

    Work is spread over ``config.workers`` processes (0: all cores), in chunks of 256
    images, with a tqdm progress bar; shards already complete from an earlier run with
    the same inputs and settings are kept as they are. A ``timings`` dict, if given,
    receives ``startup_s`` (listing, planning, worker start) and ``images_s`` (from
    the first image handed to a worker to the last shard written), in seconds.
    """
    started = time.perf_counter()
    config = config or PreprocessConfig()
    config.check()
    source = find_source(source_path)
    charset, plans, rejected, method = plan_shards(source, config)
    os.makedirs(out, exist_ok=True)
    part = manifest_name(config.shard_index, config.num_shards)
    with OutputLock(out, part):
        _remove_temporaries(out, plans)
        todo = [plan for plan in plans if not shard_is_complete(os.path.join(out, plan.split), plan.name, plan.digest)]
        images_started, images_finished = _run_plans(out, todo, charset, config, progress)
        if timings is not None:
            timings.update(startup_s=images_started - started, images_s=images_finished - images_started)
        manifest = _manifest(out, source, plans, rejected, charset, method, config)
        atomic.write_json(os.path.join(out, part), manifest)
    return manifest


def _remove_temporaries(out, plans):
    """Delete half-written files a killed run of this part left (``NAME.tmpPID``)."""
    for plan in plans:
        for leftover in glob.glob(os.path.join(out, plan.split, f"{glob.escape(plan.name)}.*.tmp*")):
            os.remove(leftover)


def _run_plans(out, plans, charset, config, progress):
    """Preprocess and write ``plans``; returns perf_counter() when the image work began
    (workers started) and when the last shard was written."""
    tasks, owners = [], []
    for index, plan in enumerate(plans):
        scratch = _scratch_path(out, plan)
        os.makedirs(os.path.dirname(scratch), exist_ok=True)
        shape = (len(plan.items), CANVAS_HEIGHT, CANVAS_WIDTH, 1)
        np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint8, shape=shape).flush()
        for start in range(0, len(plan.items), CHUNK_SIZE):
            tasks.append(([item.path for item in plan.items[start : start + CHUNK_SIZE]], config.mode, scratch, start))
            owners.append(index)
    workers = config.workers or os.cpu_count() or 1
    bar = tqdm(total=sum(len(p.items) for p in plans), unit="img", desc="preprocess", disable=not progress)
    pool = None
    if workers > 1 and len(tasks) > 1:
        pool = multiprocessing.get_context("forkserver").Pool(workers)
        pool.map(_ping, range(workers))  # started and imported: the rest is image work
    images_started = time.perf_counter()
    try:
        results = pool.imap(_preprocess_chunk, tasks) if pool else map(_preprocess_chunk, tasks)
        pending = {}
        for owner, reasons in zip(owners, results):
            pending.setdefault(owner, []).extend(reasons)
            bar.update(len(reasons))
            if len(pending[owner]) == len(plans[owner].items):
                _write_planned_shard(out, plans[owner], pending.pop(owner), charset)
    finally:
        bar.close()
        if pool:
            pool.terminate()
    return images_started, time.perf_counter()


def _ping(value):
    return value


def _manifest(out, source, plans, rejected, charset, method, config):
    counts = {split: 0 for split in SPLITS}
    shards = {split: [] for split in SPLITS}
    fonts = {split: set() for split in SPLITS}
    skipped = [{"path": path, "reason": reason} for path, reason in rejected]
    for plan in plans:
        meta = read_shard_meta(os.path.join(out, plan.split), plan.name)
        counts[plan.split] += meta["count"]
        shards[plan.split].append(plan.name)
        skipped.extend({"path": path, "reason": reason} for path, reason in meta["skipped"])
        unread = {path for path, _ in meta["skipped"]}
        fonts[plan.split].update(item.font for item in plan.items if item.font and item.path not in unread)
    manifest = {
        "format": FORMAT_VERSION,
        "source": source.description,
        "mode": config.mode,
        "charset": charset.characters,
        "seed": config.seed,
        "split": {"method": method, "val_every": config.val_every, "val_fraction": config.val_fraction},
        "part": [config.shard_index, config.num_shards],
        "limit": config.limit,
        "counts": counts,
        "shards": shards,
        "skipped_count": len(skipped),
        "skipped": skipped,
    }
    if any(fonts.values()):  # a rendered source names each image's font: the record a model card lists
        manifest["fonts"] = {split: sorted(names) for split, names in fonts.items()}
    return manifest

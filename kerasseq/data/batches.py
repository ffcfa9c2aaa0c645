"""Feeding a dataset folder to ``model.fit`` on every backend, streamed from its shards."""

import keras
import numpy as np

from kerasseq.data.dataset import DatasetSplit
from kerasseq.errors import DataError
from kerasseq.ocr.images import normalise
from kerasseq.training.distribute import devices_sharing_batches


def augment(images, rng):
    """Light photometric augmentation of float32 images in [0, 1], (n, 32, 128, 1).

    Per image: random contrast (x0.6..1.2 about the mean), brightness (+-0.1) and
    Gaussian noise (std up to 0.05); the result is clipped back into [0, 1].
    """
    count = len(images)
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(0.6, 1.2, size=(count, 1, 1, 1)).astype(np.float32)
    brightness = rng.uniform(-0.1, 0.1, size=(count, 1, 1, 1)).astype(np.float32)
    noise_std = rng.uniform(0.0, 0.05, size=(count, 1, 1, 1)).astype(np.float32)
    noise = rng.standard_normal(images.shape, dtype=np.float32) * noise_std
    return np.clip((images - mean) * contrast + mean + brightness + noise, 0.0, 1.0)


class WordImageBatches(keras.utils.PyDataset):
    """Batches of (images, labels) from a :class:`DatasetSplit`, read shard by shard.

    Each item: images (batch, 32, 128, 1) float32 in [0, 1]; labels (batch, L) int32,
    classes 1..N padded with 0 (Keras's CTC convention), L the split's longest label.
    With ``shuffle`` the shard order and the rows inside each shard are permuted anew
    every epoch (seeded), so memory-mapped reads stay local; the last partial batch is
    dropped so every step has the same shape. Without it, under a data-parallel
    distribution over D devices, the last (D - 1) images at most are left out so that
    the last batch splits evenly. ``epoch_images`` (with ``shuffle``) makes an epoch that
    many images (rounded down to whole batches) instead of one pass over the split: epochs
    then walk on through the passes, each pass in its own seeded order, so a large pool
    gets a validation point, a checkpoint and a resumable commit every ``epoch_images``.
    """

    def __init__(self, split, batch_size, shuffle=False, augment_images=False, seed=0, epoch_images=0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(split, DatasetSplit):
            raise TypeError("split must be a DatasetSplit (see kerasseq.data.dataset.open_split)")
        if len(split) == 0:
            raise DataError("the dataset split is empty: nothing to train or evaluate on")
        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        if shuffle and batch_size > len(split):
            raise DataError(
                f"batch size {batch_size} is larger than the {len(split)} images of the dataset; "
                f"use --batch-size {len(split)} or less"
            )
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment_images = augment_images
        self.seed = seed
        self.label_length = split.max_label_length
        devices = devices_sharing_batches()
        if batch_size % devices:
            raise DataError(f"batch size {batch_size} does not split evenly over {devices} devices")
        self.size = len(split) if shuffle else len(split) // devices * devices
        if epoch_images and (not shuffle or epoch_images < batch_size):
            raise DataError(f"an epoch of {epoch_images} images needs shuffled batches of at most that many images")
        self.batches_per_pass = self.size // batch_size
        self.steps = epoch_images // batch_size if epoch_images else self.batches_per_pass
        self.epoch = 0
        self.pass_number = None
        self._order(0)

    def _order(self, pass_number):
        if pass_number == self.pass_number:
            return
        self.pass_number = pass_number
        if not self.shuffle:
            self.shard_ids, self.local_ids = self.split.locate(np.arange(len(self.split)))
            return
        rng = np.random.default_rng([self.seed, pass_number])
        shard_ids, local_ids = [], []
        for shard_id in rng.permutation(len(self.split.shards)):
            size = self.split.sizes[shard_id]
            shard_ids.append(np.full(size, shard_id, dtype=np.int64))
            local_ids.append(rng.permutation(size))
        self.shard_ids = np.concatenate(shard_ids)
        self.local_ids = np.concatenate(local_ids)

    def __len__(self):
        if self.shuffle:
            return self.steps
        return -(-self.size // self.batch_size)

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(index)
        position = index
        if self.shuffle:  # the index-th batch of this epoch, counted through the passes
            pass_number, position = divmod(self.epoch * self.steps + index, self.batches_per_pass)
            self._order(pass_number)
        rows = slice(position * self.batch_size, min((position + 1) * self.batch_size, self.size))
        images, labels = self.split.gather(self.shard_ids[rows], self.local_ids[rows], self.label_length)
        images = normalise(images)
        if self.augment_images:
            images = augment(images, np.random.default_rng([self.seed, self.epoch, index]))
        return images, labels

    def set_epoch(self, epoch):
        """Continue as at the start of ``epoch`` (counted from 0): its shuffle order and
        augmentation, as in an uninterrupted run."""
        self.epoch = epoch

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

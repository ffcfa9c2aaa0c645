import numpy as np
import pytest

from kerasseq.data.batches import WordImageBatches
from kerasseq.data.dataset import open_split
from kerasseq.errors import DataError


def test_batches_have_the_shapes_dtypes_and_padding_keras_ctc_wants(dataset):
    split = open_split(str(dataset), "train")
    batches = WordImageBatches(split, 16, shuffle=True, seed=1)
    assert len(batches) == len(split) // 16
    images, labels = batches[0]
    assert images.shape == (16, 32, 128, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    longest = max(len(t) for t in split.texts)
    assert labels.shape == (16, longest) and labels.dtype == np.int32
    lengths = (labels != 0).sum(axis=1)
    for row, length in zip(labels, lengths):
        assert (row[:length] > 0).all() and (row[length:] == 0).all()
        assert split.charset.decode(row) in split.texts


def test_an_epoch_visits_each_image_once_in_a_new_seeded_order(dataset):
    split = open_split(str(dataset), "train")
    every = {(split.charset.decode(label), image.tobytes()) for image, label in zip(*split.arrays())}

    def epoch_rows(batches):
        rows = []
        for index in range(len(batches)):
            images, labels = batches[index]
            rows += [(split.charset.decode(label), (i * 255).round().astype(np.uint8).tobytes()) for i, label in zip(images, labels)]
        return rows

    batches = WordImageBatches(split, len(split), shuffle=True, seed=4)
    first = epoch_rows(batches)
    assert set(first) == every and len(first) == len(split)
    batches.on_epoch_end()
    second = epoch_rows(batches)
    assert set(second) == every and second != first
    assert epoch_rows(WordImageBatches(split, len(split), shuffle=True, seed=4)) == first


def test_unshuffled_batches_keep_the_dataset_order_and_the_last_partial_batch(dataset):
    split = open_split(str(dataset), "val")
    batches = WordImageBatches(split, 7)
    assert len(batches) == -(-len(split) // 7)
    _, labels = batches[len(batches) - 1]
    assert len(labels) == len(split) - 7 * (len(batches) - 1)
    assert [split.charset.decode(label) for label in batches[0][1]] == split.texts[:7]


def test_augmentation_changes_pixels_but_stays_in_range(dataset):
    split = open_split(str(dataset), "train")
    plain, _ = WordImageBatches(split, 8)[0]
    augmented, _ = WordImageBatches(split, 8, augment_images=True)[0]
    assert np.abs(plain - augmented).mean() > 0.01
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0


def test_bad_batch_requests_are_refused(dataset, tmp_path):
    split = open_split(str(dataset), "train")
    with pytest.raises(DataError, match="larger than the"):
        WordImageBatches(split, len(split) + 1, shuffle=True)
    with pytest.raises(DataError, match="at least 1"):
        WordImageBatches(split, 0)
    with pytest.raises(DataError, match="not a kerasseq dataset"):
        open_split(str(tmp_path), "train")


def test_epochs_of_a_set_number_of_images_walk_through_each_pass_and_resume_alike(dataset):
    split = open_split(str(dataset), "train")
    batch_size = 8
    passes = len(split) // batch_size  # batches in one pass over the split

    def labels_of(batches, epochs):
        seen = []
        for epoch in range(epochs):
            batches.set_epoch(epoch)
            seen += [tuple(map(tuple, batches[index][1])) for index in range(len(batches))]
        return seen

    batches = WordImageBatches(split, batch_size, shuffle=True, seed=2, epoch_images=3 * batch_size)
    assert len(batches) == 3
    epochs = -(-2 * passes // 3)  # enough epochs for two passes
    seen = labels_of(batches, epochs)
    first_pass, second_pass = seen[:passes], seen[passes:2 * passes]
    whole = labels_of(WordImageBatches(split, batch_size, shuffle=True, seed=2), 2)
    assert first_pass == whole[:passes] and second_pass == whole[passes:]  # the passes of plain epochs, in order
    resumed = WordImageBatches(split, batch_size, shuffle=True, seed=2, epoch_images=3 * batch_size)
    resumed.set_epoch(epochs - 1)
    assert [tuple(map(tuple, resumed[index][1])) for index in range(3)] == seen[-3:]
    with pytest.raises(DataError, match="an epoch of 4 images"):
        WordImageBatches(split, batch_size, shuffle=True, epoch_images=4)

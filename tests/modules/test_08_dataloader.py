"""Checks for module 08: datasets, the DataLoader and batch augmentation.

Oracles: sample identities carried inside the data (image i holds the value i),
plain loop references for crop and flip, and hand-worked normalisation values.
"""

import re

import numpy as np
import pytest
from tinytorch.data import (
    Compose,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    ToFloat,
    collate,
    crop,
)


def numbered(n, size=4):
    """n images (3, size, size) whose pixels all equal their index; labels i % 7."""
    x = np.arange(n, dtype=np.int64)[:, None, None, None] * np.ones(
        (1, 3, size, size), np.int64
    )  # (n, 3, s, s)
    return x, np.arange(n) % 7


def ramp(n=6, c=3, h=9, w=7):
    """Images whose every value is different: any axis mix-up changes them."""
    return np.arange(n * c * h * w, dtype=np.int32).reshape(n, c, h, w)


def epoch_order(loader):
    """Sample ids of one epoch, in the order the loader served them."""
    return np.concatenate([x[:, 0, 0, 0] for x, _ in loader])


class OneAtATime(Dataset):
    """Arrays served one sample per call, like a dataset that reads files."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


# Datasets


def test_tensor_dataset_gives_rows_of_every_array():
    x, y = numbered(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    image, label = ds[3]
    assert image.shape == (3, 4, 4) and (image == 3).all() and label == 3
    xb, yb = ds[np.array([4, 0, 2])]
    assert (xb[:, 0, 0, 0] == [4, 0, 2]).all() and (yb == [4, 0, 2]).all()


def test_tensor_dataset_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError) as info:
        TensorDataset(np.zeros((6, 3)), np.zeros(4))
    message = str(info.value)
    assert re.search(r"\b6\b", message) and re.search(r"\b4\b", message), message


def test_tensor_dataset_needs_an_array():
    with pytest.raises(ValueError):
        TensorDataset()


def test_collate_stacks_fields():
    x, y = numbered(4)
    batch = collate([(x[i], int(y[i])) for i in [2, 0, 3]])
    assert isinstance(batch, tuple) and len(batch) == 2
    assert batch[0].shape == (3, 3, 4, 4) and (batch[0][:, 0, 0, 0] == [2, 0, 3]).all()
    assert batch[1].dtype.kind == "i" and list(batch[1]) == [2, 0, 3]
    assert collate([np.ones(2), np.zeros(2)]).shape == (2, 2)


# The DataLoader


@pytest.mark.parametrize(
    "n, batch_size, drop_last, expected",
    [
        (10, 4, False, 3),
        (10, 4, True, 2),
        (12, 4, False, 3),
        (12, 4, True, 3),
        (3, 5, False, 1),
        (3, 5, True, 0),
        (1, 1, False, 1),
    ],
)
def test_len_counts_batches(n, batch_size, drop_last, expected):
    loader = DataLoader(TensorDataset(*numbered(n)), batch_size, drop_last=drop_last)
    assert len(loader) == expected
    assert len(list(loader)) == expected


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_exactly_once_per_epoch(shuffle):
    x, y = numbered(23)
    loader = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=shuffle, seed=1)
    for _ in range(3):
        batches = list(loader)
        order = epoch_order(batches)
        assert sorted(order.tolist()) == list(range(23))
        for xb, yb in batches:  # images and labels stay paired
            assert (yb == xb[:, 0, 0, 0] % 7).all()


def test_last_partial_batch_and_drop_last():
    ds = TensorDataset(*numbered(10))
    kept = [len(yb) for _, yb in DataLoader(ds, batch_size=4, shuffle=True, seed=0)]
    assert kept == [4, 4, 2]
    dropped = DataLoader(ds, batch_size=4, shuffle=True, drop_last=True, seed=0)
    for _ in range(4):
        batches = list(dropped)
        assert [len(yb) for _, yb in batches] == [4, 4]
        assert len(set(epoch_order(batches).tolist())) == 8


def test_no_shuffle_keeps_dataset_order():
    x, y = numbered(11)
    loader = DataLoader(TensorDataset(x, y), batch_size=3)
    for _ in range(2):
        assert epoch_order(loader).tolist() == list(range(11))


def test_shuffle_changes_the_order():
    loader = DataLoader(TensorDataset(*numbered(50)), 8, shuffle=True, seed=2)
    assert epoch_order(loader).tolist() != list(range(50))


def test_same_seed_gives_same_orders():
    ds = TensorDataset(*numbered(40))
    first = DataLoader(ds, 6, shuffle=True, seed=123)
    second = DataLoader(ds, 6, shuffle=True, seed=123)
    for _ in range(3):
        assert (epoch_order(first) == epoch_order(second)).all()
    other = epoch_order(DataLoader(ds, 6, shuffle=True, seed=124))
    assert not (other == epoch_order(DataLoader(ds, 6, shuffle=True, seed=123))).all()


def test_a_generator_can_stand_for_the_seed():
    ds = TensorDataset(*numbered(30))
    by_int = DataLoader(ds, 4, shuffle=True, seed=5)
    by_generator = DataLoader(ds, 4, shuffle=True, seed=np.random.default_rng(5))
    for _ in range(2):
        assert (epoch_order(by_int) == epoch_order(by_generator)).all()


def test_global_numpy_seed_makes_an_unseeded_loader_repeatable():
    ds = TensorDataset(*numbered(30))
    np.random.seed(9)
    first = epoch_order(DataLoader(ds, 4, shuffle=True))
    np.random.seed(9)
    assert (epoch_order(DataLoader(ds, 4, shuffle=True)) == first).all()


def test_different_order_each_epoch():
    loader = DataLoader(TensorDataset(*numbered(40)), 8, shuffle=True, seed=0)
    orders = [tuple(epoch_order(loader).tolist()) for _ in range(4)]
    assert len(set(orders)) == 4


def test_per_sample_dataset_gives_the_same_batches():
    x, y = numbered(17)
    fast = DataLoader(TensorDataset(x, y), 5, shuffle=True, seed=3)
    slow = DataLoader(OneAtATime(x, y), 5, shuffle=True, seed=3)
    for _ in range(2):
        for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
            assert (xf == xs).all() and (yf == ys).all()


def test_dataset_of_single_arrays_gives_array_batches():
    class Squares(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.array([i, i * i])

    batches = list(DataLoader(Squares(), batch_size=3))
    assert [b.shape for b in batches] == [(3, 2), (3, 2), (1, 2)]
    assert np.concatenate(batches)[:, 1].tolist() == [i * i for i in range(7)]


def test_tensor_dataset_is_fetched_a_batch_at_a_time():
    calls = []

    class Counting(TensorDataset):
        def __getitem__(self, index):
            calls.append(np.ndim(index))
            return super().__getitem__(index)

    loader = DataLoader(Counting(*numbered(20)), batch_size=8, shuffle=True, seed=0)
    assert len(list(loader)) == 3
    assert calls == [1, 1, 1], "one fancy-indexing call per batch, not per sample"


def test_transform_applies_to_inputs_only_and_keeps_dtypes():
    x = np.full((6, 3, 4, 4), 255, np.uint8)
    y = np.arange(6, dtype=np.int64)
    loader = DataLoader(TensorDataset(x, y), 4, transform=ToFloat())
    (xb, yb), _ = list(loader)
    assert xb.dtype == np.float32 and np.allclose(xb, 1.0)
    assert yb.dtype == np.int64 and yb.tolist() == [0, 1, 2, 3]
    raw, _ = next(iter(DataLoader(TensorDataset(x, y), 4)))
    assert raw.dtype == np.uint8


def test_bad_batch_size_is_refused():
    ds = TensorDataset(*numbered(4))
    for bad in [0, -2, 2.5]:
        with pytest.raises(ValueError):
            DataLoader(ds, batch_size=bad)


# Augmentation


def crop_reference(images, top, left, h, w):
    """One window per image, cut in a loop."""
    windows = []
    for image, t, l in zip(images, top, left, strict=True):
        windows.append(image[:, t : t + h, l : l + w])
    return np.stack(windows)


def test_crop_matches_loop_reference_for_given_offsets():
    images = ramp(n=8, h=9, w=7)
    rng = np.random.default_rng(0)
    for h, w in [(4, 4), (9, 7), (1, 1), (5, 3)]:
        top = rng.integers(0, 9 - h + 1, 8)
        left = rng.integers(0, 7 - w + 1, 8)
        out = crop(images, top, left, (h, w))
        assert out.shape == (8, 3, h, w) and out.dtype == images.dtype
        assert (out == crop_reference(images, top, left, h, w)).all()
    top, left = rng.integers(0, 5, 8), rng.integers(0, 3, 8)
    assert (crop(images, top, left, 5) == crop_reference(images, top, left, 5, 5)).all()


def test_crop_takes_edge_windows_and_refuses_windows_outside():
    images = ramp(n=2, h=5, w=6)
    edge = crop(images, np.array([0, 1]), np.array([2, 0]), 4)  # last valid offsets
    assert (edge == crop_reference(images, [0, 1], [2, 0], 4, 4)).all()
    with pytest.raises(ValueError):
        crop(images, np.array([0, 2]), np.array([0, 0]), 4)
    with pytest.raises(ValueError):
        crop(images, np.array([-1, 0]), np.array([0, 0]), 2)


def test_random_crop_cuts_a_window_of_the_zero_padded_image():
    images = ramp(n=12, h=6, w=5) + 1  # no zeros inside: padding shows up as 0
    out = RandomCrop((6, 5), padding=2, seed=0)(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = []
    for i in range(len(images)):
        found = [
            (a, b)
            for a in range(5)
            for b in range(5)
            if (out[i] == padded[i, :, a : a + 6, b : b + 5]).all()
        ]
        assert len(found) == 1, f"sample {i} is not a window of its padded image"
        offsets.append(found[0])
    assert len(set(offsets)) > 1, "each sample gets its own offset"


def test_random_crop_without_padding_at_full_size_is_identity():
    images = ramp()
    assert (RandomCrop((9, 7), seed=0)(images) == images).all()


def test_random_crop_is_reproducible_and_varies():
    images = ramp(n=16)
    a = RandomCrop(5, padding=1, seed=4)
    b = RandomCrop(5, padding=1, seed=4)
    first = a(images)
    assert (first == b(images)).all()
    assert not (a(images) == first).all(), "new offsets on the next call"


def test_flip_reverses_width_only_matching_loop_reference():
    images = ramp(n=40)
    out = RandomHorizontalFlip(p=0.5, seed=0)(images)
    assert out.shape == images.shape
    flipped = 0
    for i in range(len(images)):
        as_is = (out[i] == images[i]).all()
        mirrored = (out[i] == images[i, :, :, ::-1]).all()
        assert as_is or mirrored, f"sample {i} is neither itself nor its mirror"
        flipped += bool(mirrored)
    assert 0 < flipped < len(images), "p=0.5 flips some samples, not all or none"


def test_flip_probability_one_and_zero():
    images = ramp()
    assert (RandomHorizontalFlip(p=1.0, seed=0)(images) == images[:, :, :, ::-1]).all()
    assert (RandomHorizontalFlip(p=0.0, seed=0)(images) == images).all()


def test_flip_never_touches_the_input():
    images = ramp()
    before = images.copy()
    RandomHorizontalFlip(p=1.0)(images)
    RandomCrop(5, padding=2)(images)
    assert (images == before).all()


def test_flip_is_reproducible_for_a_seed():
    images = ramp(n=30)
    a, b = RandomHorizontalFlip(seed=11), RandomHorizontalFlip(seed=11)
    assert (a(images) == b(images)).all()


def test_to_float_scales_bytes():
    pixels = np.array([0, 51, 255], np.uint8).reshape(1, 1, 1, 3)
    out = ToFloat()(pixels)
    assert out.dtype == np.float32
    assert np.allclose(out.ravel(), [0.0, 0.2, 1.0], atol=1e-7)


def test_normalize_hand_worked_values():
    x = np.array(
        [[[[1.0, 3.0]], [[0.0, 10.0]]]], np.float32
    )  # (1, 2, 1, 2): channel 0 = [1, 3], channel 1 = [0, 10]
    out = Normalize(mean=[2.0, 5.0], std=[0.5, 2.5])(x)
    # channel 0: (1-2)/0.5 = -2, (3-2)/0.5 = 2; channel 1: (0-5)/2.5 = -2, 10 -> 2
    expected = np.array([[[[-2.0, 2.0]], [[-2.0, 2.0]]]], np.float32)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.allclose(out, expected, atol=1e-6)
    assert (x == [[[[1.0, 3.0]], [[0.0, 10.0]]]]).all(), "input left alone"


def test_normalize_per_channel_on_bytes():
    x = np.array([10, 20, 30], np.uint8).reshape(1, 3, 1, 1)
    out = Normalize(mean=[10, 10, 10], std=[1, 2, 4])(x)
    assert out.dtype == np.float32
    assert np.allclose(out.ravel(), [0.0, 5.0, 5.0])


def test_normalize_takes_one_value_or_one_per_channel():
    x = np.full((2, 3, 2, 2), 3.0, np.float32)
    assert np.allclose(Normalize(1.0, 2.0)(x), 1.0)
    assert np.allclose(Normalize([1, 2, 3], [1, 1, 1])(x)[0, :, 0, 0], [2, 1, 0])
    with pytest.raises(ValueError):
        Normalize(mean=[0.5, 0.5], std=[0.2, 0.2])(x)


def test_compose_runs_in_order():
    pixels = np.array([0, 255], np.uint8).reshape(1, 1, 1, 2)
    out = Compose([ToFloat(), Normalize(0.5, 0.5)])(pixels)
    assert np.allclose(out.ravel(), [-1.0, 1.0], atol=1e-6)
    out = Compose([RandomHorizontalFlip(p=1.0), ToFloat()])(pixels)
    assert np.allclose(out.ravel(), [1.0, 0.0])


def test_augmented_training_batches():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 3, 8, 8), dtype=np.uint8)
    y = rng.integers(0, 10, 300)
    recipe = Compose(
        [
            RandomCrop(8, padding=2, seed=1),
            RandomHorizontalFlip(seed=2),
            ToFloat(),
            Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25]),
        ]
    )
    loader = DataLoader(
        TensorDataset(x, y), 64, shuffle=True, drop_last=True, seed=0, transform=recipe
    )
    batches = list(loader)
    assert len(batches) == len(loader) == 4
    for xb, yb in batches:
        assert xb.shape == (64, 3, 8, 8) and xb.dtype == np.float32
        assert yb.shape == (64,) and yb.dtype == y.dtype
        assert xb.min() >= -2.0 - 1e-6 and xb.max() <= 2.0 + 1e-6

# %% [markdown]
# # Module 08: Datasets, loaders and augmentation
#
# The foundation trained models on arrays small enough to pass in whole.
# CIFAR-10's training set is 50,000 colour images of 32 x 32 pixels, and a
# network learns from it a mini-batch at a time: 128 images, a gradient step,
# the next 128. This module builds the part of the framework that serves those
# batches:
#
# - `Dataset` and `TensorDataset`: what a collection of samples must offer;
# - `DataLoader`: batches in a fresh random order every epoch, reproducible from
#   a seed, with the last short batch kept or dropped;
# - augmentation on whole batches of CHW images (`RandomCrop`,
#   `RandomHorizontalFlip`) and the conversion to normalised floats (`ToFloat`,
#   `Normalize`, `Compose`).
#
# Everything is exported to `tinytorch/data.py`. Batches are NumPy arrays: the
# training step wraps the inputs with `Tensor(x)` and hands the labels to the
# loss. Milestone 04 trains a CNN on CIFAR-10 with exactly these pieces, so they
# must be fast as well as right: loading and augmenting a whole epoch should cost
# a small fraction of a second per 10,000 images.

# %%
#| default_exp data

# %% [markdown]
# ## 1. Datasets
#
# A dataset is anything with a length and an index: `len(ds)` samples, and
# `ds[i]` the sample number `i`, usually a pair such as `(image, label)`. That
# small contract lets a loader serve images read from disk, generated on the fly
# or held in memory, without knowing which.
#
# `Dataset` writes the contract down. `TensorDataset(images, labels)` is the
# common case: a few arrays whose first axis counts samples. Sample `i` is the
# tuple of row `i` of every array. If the arrays disagree on how many samples
# there are, something upstream went wrong (labels of the training set paired
# with images of the test set, say), and the only helpful moment to say so is
# at construction, naming both lengths.
#
# `as_generator` turns the `seed` argument used throughout this module into a
# NumPy `Generator`: an int seeds a new one, a `Generator` is used as it is (so
# several objects can share one stream), and `None` draws a seed from NumPy's
# global generator, so that `np.random.seed(0)` (or `seed_everything(0)`) makes
# a run repeatable too.

# %%
#| export
import abc

import numpy as np


def as_generator(seed=None):
    """A np.random.Generator from an int seed, a Generator (kept) or None.

    None takes a seed from NumPy's global generator, so np.random.seed applies.
    """
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    return np.random.default_rng(seed)


class Dataset(abc.ABC):
    """A sized collection of samples: len(ds), and ds[i] for 0 <= i < len(ds)."""

    @abc.abstractmethod
    def __len__(self):
        """The number of samples."""

    @abc.abstractmethod
    def __getitem__(self, index):
        """Sample number `index`, e.g. a tuple (image, label)."""


class TensorDataset(Dataset):
    """Samples are rows of arrays that share their first axis: ds[i] = (a[i], b[i])."""

    def __init__(self, *arrays):
        ### BEGIN SOLUTION
        if not arrays:
            raise ValueError(
                "TensorDataset needs at least one array; "
                "pass e.g. TensorDataset(images, labels)."
            )
        arrays = tuple(np.asarray(a) for a in arrays)
        for k, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset array {k} is a scalar; "
                    "each array needs a first axis that counts samples."
                )
        n = len(arrays[0])
        for k, a in enumerate(arrays[1:], start=1):
            if len(a) != n:
                raise ValueError(
                    f"TensorDataset arrays differ in length: array 0 has {n} "
                    f"samples, array {k} has {len(a)} (shape {a.shape}); "
                    "give every array one row per sample."
                )
        self.arrays = arrays
        ### END SOLUTION

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        """One sample for an int, a whole batch for an array of indices."""
        ### BEGIN SOLUTION
        return tuple(a[index] for a in self.arrays)
        ### END SOLUTION

    def __repr__(self):
        shapes = ", ".join(f"{a.dtype}{a.shape}" for a in self.arrays)
        return f"TensorDataset({shapes})"


# %% [markdown]
# A quick look, and a first check. Sample `i` of the toy set below has image
# pixels all equal to `i` and label `i % 3`, so every value says where it came
# from. An index array gives a whole batch at once, which the loader will use.

# %%
toy_x = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones(
    (1, 3, 4, 4), np.uint8
)  # (10, 3, 4, 4)
toy_y = np.arange(10) % 3  # (10,)
toy = TensorDataset(toy_x, toy_y)

image, label = toy[7]
assert len(toy) == 10 and image.shape == (3, 4, 4) and (image == 7).all()
assert label == 1
xb, yb = toy[np.array([4, 2])]
assert xb.shape == (2, 3, 4, 4) and (xb[:, 0, 0, 0] == [4, 2]).all()
assert list(yb) == [1, 2]

try:
    TensorDataset(toy_x, toy_y[:7])
except ValueError as e:
    print(e)
    assert "10" in str(e) and "7" in str(e)
else:
    raise AssertionError("a length mismatch must raise ValueError")
print(toy)

# %% [markdown]
# ## 2. Batches and epochs
#
# One **epoch** shows the model every sample once. The loader splits the sample
# indices into batches of `batch_size`; with `shuffle=True` it first puts the
# indices in a random order, a **new** order each epoch, so that the
# mini-batches differ from one epoch to the next and so does the noise in their
# gradients. When the set does not divide evenly, the last batch is short
# (10 samples in batches of 4 give 4, 4 and 2), or it is dropped with
# `drop_last=True`, which keeps every batch the same size (batch norm, for one,
# is unhappy with a batch of one).
#
# Reproducibility comes from the generator: the same `seed` gives the same
# sequence of permutations, epoch after epoch, on any machine.
#
# Start with the slow but general way to build a batch, one sample at a time.
# `collate` stacks a list of samples into one batch: tuples field by field,
# arrays along a new first axis (Python ints become an int64 array).

# %%
#| export
import numpy as np


def collate(samples):
    """Stack samples into a batch: tuples field by field, arrays on a new axis 0."""
    ### BEGIN SOLUTION
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(collate([s[k] for s in samples]) for k in range(len(first)))
    return np.stack([np.asarray(s) for s in samples])  # (B, ...)
    ### END SOLUTION


# %%
batch = collate([toy[i] for i in [3, 8, 1]])
assert isinstance(batch, tuple) and len(batch) == 2
assert batch[0].shape == (3, 3, 4, 4) and (batch[0][:, 0, 0, 0] == [3, 8, 1]).all()
assert batch[1].dtype == np.int64 and list(batch[1]) == [0, 2, 1]
assert collate([5, 6]).tolist() == [5, 6]

# %% [markdown]
# That per-sample loop costs a Python call per image: fine for a dataset that
# reads files, wasteful for a `TensorDataset` whose arrays can hand over a whole
# batch in one fancy-indexing step, `images[indices]`. The loader takes that
# fast path whenever the dataset is a `TensorDataset` (the systems section
# measures the difference).
#
# Your exercises in `DataLoader`:
#
# - `__len__`: the number of batches per epoch (round up, or down with
#   `drop_last`);
# - `index_batches`: one epoch's list of index arrays, from a fresh permutation
#   drawn from `self.rng` when shuffling, in order otherwise;
# - `fetch`: the batch for one index array (fast path or `collate`);
# - `__iter__`: yield the batches of one epoch, with `transform` applied to the
#   inputs (the first field of a tuple batch; the labels are left alone).

# %%
#| export
import numpy as np


class DataLoader:
    """Batches of a dataset, reshuffled every epoch; iterate once per epoch.

    Batches are tuples of NumPy arrays (or one array, for a dataset whose
    samples are arrays). `seed` is an int, a np.random.Generator or None.
    `transform` is applied to each batch's inputs, the first field of a tuple.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=False,
        drop_last=False,
        seed=None,
        transform=None,
    ):
        whole = isinstance(batch_size, (int, np.integer)) and batch_size is not True
        if not whole or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.transform = transform
        self.rng = as_generator(seed)

    def __len__(self):
        """The number of batches in one epoch."""
        ### BEGIN SOLUTION
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)
        ### END SOLUTION

    def index_batches(self):
        """One epoch's index arrays; a fresh permutation each call when shuffling."""
        ### BEGIN SOLUTION
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)  # (n,)
        stop = len(self) * self.batch_size if self.drop_last else n
        return [order[s : s + self.batch_size] for s in range(0, stop, self.batch_size)]
        ### END SOLUTION

    def fetch(self, indices):
        """The batch for an index array: one indexing step for a TensorDataset."""
        ### BEGIN SOLUTION
        if isinstance(self.dataset, TensorDataset):
            return self.dataset[indices]
        return collate([self.dataset[int(i)] for i in indices])
        ### END SOLUTION

    def __iter__(self):
        ### BEGIN SOLUTION
        for indices in self.index_batches():
            batch = self.fetch(indices)
            if self.transform is not None:
                if isinstance(batch, tuple):
                    batch = (self.transform(batch[0]), *batch[1:])
                else:
                    batch = self.transform(batch)
            yield batch
        ### END SOLUTION

    def __repr__(self):
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"transform={self.transform!r})"
        )


# %% [markdown]
# Checks against what an epoch must be: every sample exactly once, the short
# last batch kept or dropped, the same orders from the same seed, a new order
# each epoch.

# %%
loader = DataLoader(toy, batch_size=4, shuffle=True, seed=0)
assert len(loader) == 3
epochs = []
for _ in range(3):
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    order = np.concatenate([x[:, 0, 0, 0] for x, _ in batches])
    assert sorted(order) == list(range(10)), "every sample exactly once"
    for x, y in batches:  # images and labels stay paired
        assert (y == x[:, 0, 0, 0] % 3).all()
    epochs.append(order)
assert not all((e == epochs[0]).all() for e in epochs[1:]), "a new order each epoch"

again = DataLoader(toy, batch_size=4, shuffle=True, seed=0)
for e in epochs:
    order = np.concatenate([x[:, 0, 0, 0] for x, _ in again])
    assert (order == e).all(), "the same seed gives the same orders"

dropped = DataLoader(toy, batch_size=4, drop_last=True)
assert len(dropped) == 2 and [len(y) for _, y in dropped] == [4, 4]
in_order = np.concatenate([y for _, y in DataLoader(toy, batch_size=3)])
assert (in_order == toy_y).all(), "no shuffle keeps the dataset's order"
print("epoch orders:", *epochs, sep="\n")

# %% [markdown]
# ## 3. Augmentation on whole batches
#
# A CNN that has seen a cat only at the centre of the frame, facing left, has
# learnt less than it could. Augmentation shows it a slightly different version
# of every image each epoch: shifted by a few pixels (**random crop** of a
# zero-padded image) and mirrored left-right half of the time (**horizontal
# flip**). Both keep the label true; on CIFAR-10 they are worth several points of
# test accuracy.
#
# Images here are CHW and batches NCHW: `(N, C, H, W)`, colour channels before
# rows and columns. A horizontal flip reverses the **last** axis, the width.
# Reversing axis 1 would swap the red and blue planes instead, a colour change
# no camera makes, and a bug that trains without an error message; the checks
# below use images whose channels differ so that it cannot hide.
#
# Each sample gets its own random offset and its own coin flip, and we want no
# Python loop over the batch. The loop version is still the clearest statement
# of what a crop and a flip are, so here they are first; they are the oracles
# for the fast versions you will write.


# %%
def crop_loop(images, top, left, size):
    """Reference: one window per image, cut one image at a time."""
    n, c = images.shape[:2]
    out = np.empty((n, c, size, size), images.dtype)  # (N, C, s, s)
    for i in range(n):
        out[i] = images[i, :, top[i] : top[i] + size, left[i] : left[i] + size]
    return out


def flip_loop(images, flip):
    """Reference: reverse the width of the images where `flip` is True."""
    out = images.copy()
    for i in range(len(images)):
        if flip[i]:
            out[i] = images[i, :, :, ::-1]
    return out


# %% [markdown]
# The vectorised crop rests on a **strided view**.
# `np.lib.stride_tricks.sliding_window_view(images, (h, w), axis=(2, 3))` has
# shape `(N, C, H - h + 1, W - w + 1, h, w)`: entry `[n, c, i, j]` is the
# `h x w` window whose top-left corner is at row `i`, column `j`. It is a view,
# so no window is copied until you index it. Then one gather picks each
# sample's window: `windows[np.arange(N), :, top, left]` pairs sample `n` with
# its own `top[n]` and `left[n]` and keeps all channels, giving `(N, C, h, w)`.
#
# Your exercises:
#
# - `crop(images, top, left, size)`: the gather above (the offsets are already
#   checked to lie inside the images);
# - `RandomCrop.__call__`: zero-pad by `padding` on every side, draw one `top`
#   and one `left` per sample from `self.rng` (every offset that keeps the window
#   inside the padded image is equally likely), then `crop`;
# - `RandomHorizontalFlip.__call__`: one draw per sample, flip where it is below
#   `p`; return a new array and leave the input alone;
# - `ToFloat.__call__`, `Normalize.__call__` and `Compose.__call__`.

# %%
#| export
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pair(size):
    """An int or an (h, w) pair -> (h, w)."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def _check_images(images):
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(
            f"expected a batch of images of shape (N, C, H, W), got {shape}; "
            "add a batch axis with images[None] for a single image."
        )


def crop(images, top, left, size):
    """Cut one window per image: (N, C, H, W) with top, left (N,) -> (N, C, h, w)."""
    _check_images(images)
    h, w = _pair(size)
    n, _, height, width = images.shape
    top, left = np.asarray(top), np.asarray(left)
    if top.shape != (n,) or left.shape != (n,):
        raise ValueError(
            f"crop needs one top and one left per image: {n} images, "
            f"got top {top.shape} and left {left.shape}."
        )
    if n and (
        top.min() < 0
        or left.min() < 0
        or top.max() + h > height
        or left.max() + w > width
    ):
        raise ValueError(
            f"crop windows of {h}x{w} at the given offsets fall outside images "
            f"of {height}x{width}; offsets must lie in [0, {height - h}] and "
            f"[0, {width - w}]."
        )
    ### BEGIN SOLUTION
    windows = sliding_window_view(images, (h, w), axis=(2, 3))  # (N, C, H', W', h, w)
    return windows[np.arange(n), :, top, left]  # (N, C, h, w)
    ### END SOLUTION


class RandomCrop:
    """Zero-pad by `padding`, then cut a random `size` window from each image."""

    def __init__(self, size, padding=0, seed=None):
        self.size = _pair(size)
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}.")
        self.padding = int(padding)
        self.rng = as_generator(seed)

    def __call__(self, images):
        _check_images(images)
        n, c, height, width = images.shape
        h, w = self.size
        p = self.padding
        if h > height + 2 * p or w > width + 2 * p:
            raise ValueError(
                f"RandomCrop of {h}x{w} does not fit images of {height}x{width} "
                f"padded by {p}; use a smaller size or more padding."
            )
        ### BEGIN SOLUTION
        padded = np.zeros((n, c, height + 2 * p, width + 2 * p), images.dtype)
        padded[:, :, p : p + height, p : p + width] = images  # (N, C, H+2p, W+2p)
        top = self.rng.integers(0, height + 2 * p - h + 1, size=n)  # (N,)
        left = self.rng.integers(0, width + 2 * p - w + 1, size=n)  # (N,)
        return crop(padded, top, left, (h, w))  # (N, C, h, w)
        ### END SOLUTION

    def __repr__(self):
        return f"RandomCrop({self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left-right (its width axis) with probability p."""

    def __init__(self, p=0.5, seed=None):
        if not 0 <= p <= 1:
            raise ValueError(f"p is a probability in [0, 1], got {p}.")
        self.p = p
        self.rng = as_generator(seed)

    def __call__(self, images):
        _check_images(images)
        ### BEGIN SOLUTION
        flip = np.flatnonzero(self.rng.random(len(images)) < self.p)  # (F,)
        out = images.copy()  # (N, C, H, W)
        out[flip] = images[flip, :, :, ::-1]  # only the width axis reversed
        return out
        ### END SOLUTION

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class ToFloat:
    """Cast to float32 and multiply by `scale`: uint8 [0, 255] -> [0, 1]."""

    def __init__(self, scale=1 / 255):
        self.scale = scale

    def __call__(self, images):
        ### BEGIN SOLUTION
        out = images.astype(np.float32)  # (N, C, H, W), a new array
        out *= np.float32(self.scale)  # in place: no second temporary
        return out
        ### END SOLUTION

    def __repr__(self):
        return f"ToFloat(scale={self.scale:.6g})"


class Normalize:
    """(x - mean) / std per channel, as float32; mean and std in x's units."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32).reshape(-1)  # (C,) or (1,)
        self.std = np.asarray(std, np.float32).reshape(-1)  # (C,) or (1,)
        if self.mean.shape != self.std.shape:
            raise ValueError(
                f"Normalize got {self.mean.size} means and {self.std.size} stds; "
                "give one of each per channel."
            )
        if (self.std <= 0).any():
            raise ValueError(f"Normalize needs positive stds, got {self.std}.")

    def __call__(self, images):
        _check_images(images)
        if self.mean.size not in (1, images.shape[1]):
            raise ValueError(
                f"Normalize has {self.mean.size} means and stds but the images "
                f"of shape {images.shape} have {images.shape[1]} channels."
            )
        ### BEGIN SOLUTION
        out = images.astype(np.float32)  # (N, C, H, W), a new array
        out -= self.mean[:, None, None]  # (C, 1, 1) broadcast over N, H and W
        out *= 1 / self.std[:, None, None]  # in place: no second temporary
        return out
        ### END SOLUTION

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images):
        ### BEGIN SOLUTION
        for transform in self.transforms:
            images = transform(images)
        return images
        ### END SOLUTION

    def __repr__(self):
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


# %% [markdown]
# Check the vectorised crop and flip against their loop versions. The test
# images have a different ramp in each channel and in each direction, so that
# any mix-up of axes changes the values.

# %%
rng = np.random.default_rng(1)
ramp = np.arange(5 * 3 * 9 * 7, dtype=np.int32).reshape(5, 3, 9, 7)  # (N, C, H, W)
top, left = rng.integers(0, 9 - 4 + 1, 5), rng.integers(0, 7 - 4 + 1, 5)
assert (crop(ramp, top, left, 4) == crop_loop(ramp, top, left, 4)).all()

flipper = RandomHorizontalFlip(p=0.5, seed=3)
flipped = flipper(ramp)
# Which samples were flipped: the ones whose first row now runs backwards.
was_flipped = flipped[:, 0, 0, 0] > flipped[:, 0, 0, -1]
assert (flipped == flip_loop(ramp, was_flipped)).all()
assert (RandomHorizontalFlip(p=1.0)(ramp) == ramp[:, :, :, ::-1]).all()
assert (RandomHorizontalFlip(p=0.0)(ramp) == ramp).all()

cropper = RandomCrop(7, padding=2, seed=0)
shifted = cropper(ramp)
assert shifted.shape == (5, 3, 7, 7) and shifted.dtype == ramp.dtype
padded = np.pad(ramp, ((0, 0), (0, 0), (2, 2), (2, 2)))
for i in range(5):  # every output is some 7x7 window of the padded image
    assert any(
        (shifted[i] == padded[i, :, a : a + 7, b : b + 7]).all()
        for a in range(9 + 4 - 7 + 1)
        for b in range(7 + 4 - 7 + 1)
    )

to_unit = Compose([ToFloat(), Normalize(mean=0.5, std=0.25)])
pixels = np.array([0, 51, 255], np.uint8).reshape(1, 1, 1, 3)
# 0 -> (0 - 0.5) / 0.25 = -2, 51 -> (0.2 - 0.5) / 0.25 = -1.2, 255 -> 2
assert np.allclose(to_unit(pixels).ravel(), [-2.0, -1.2, 2.0], atol=1e-6)
assert to_unit(pixels).dtype == np.float32
print(cropper, flipper, to_unit, sep="\n")

# %% [markdown]
# ## 4. Systems: memory and speed
#
# Time to measure. We use 10,000 random images of CIFAR-10's shape and dtype:
# the speed of a loader does not depend on what the pixels show, and the
# benchmark `bench/dataloader.py` repeats the measurement on the real CIFAR-10.
#
# **Memory.** A pixel stored as `uint8` takes one byte; as `float32`, four. One
# could convert and normalise the whole set once, up front, and serve floats.
# But the model only ever sees one batch at a time, so only one batch needs to
# be float at a time. Keep the set as `uint8`, crop and flip bytes, and convert
# each batch as its last step. Measure what each choice holds in memory:

# %%
import time

rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(10_000, 3, 32, 32), dtype=np.uint8)  # (N, C, H, W)
labels = rng.integers(0, 10, size=10_000)  # (N,)
mean = images.mean(axis=(0, 2, 3)) / 255  # (C,), in ToFloat's units
std = images.std(axis=(0, 2, 3)) / 255  # (C,)
to_input = Compose([ToFloat(), Normalize(mean, std)])

prepared = to_input(images)  # the whole set as normalised float32, up front
print(f"the set as uint8:              {images.nbytes / 1e6:7.1f} MB")
print(f"the set as float32, up front:  {prepared.nbytes / 1e6:7.1f} MB")
print(f"ratio: {prepared.nbytes / images.nbytes:.1f}x")
batch_u8, batch_f32 = images[:128], to_input(images[:128])
print(f"one batch of 128 as uint8:     {batch_u8.nbytes / 1e3:7.1f} kB")
print(f"one batch of 128 as float32:   {batch_f32.nbytes / 1e3:7.1f} kB")
per_image = images[0].nbytes
print(
    f"so CIFAR-10's 50,000 training images take {50_000 * per_image / 1e6:.0f} MB "
    f"as uint8 and {50_000 * batch_f32[0].nbytes / 1e6:.0f} MB as float32"
)


# %% [markdown]
# **Speed.** Images per second over whole epochs of the same set, served five
# ways: the fast path alone; the per-sample path (the same arrays behind a
# `Dataset` that answers one index at a time); uint8 batches converted and
# normalised per batch; the prepared float32 set; and the full recipe the
# milestone uses, crop and flip included. From the first and third rows comes
# the cost of the per-batch conversion; last, the crop alone, loop against
# vectorised.


# %%
def images_per_second(loader, epochs=2):
    """Throughput of whole epochs of `loader` (every batch produced in full)."""
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            count += len(batch[0])
    return count / (time.perf_counter() - start)


def microseconds(fn, repeat=50):
    """Median time of one call of `fn()`, in microseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e6


class OneAtATime(Dataset):
    """The same arrays, served one sample per call: forces the collate path."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


recipe = Compose(
    [
        RandomCrop(32, padding=4, seed=0),
        RandomHorizontalFlip(seed=1),
        ToFloat(),
        Normalize(mean, std),
    ]
)
data = TensorDataset(images, labels)
loaders = {
    "fast path, uint8": DataLoader(data, 128, shuffle=True, seed=0),
    "per-sample collate, uint8": DataLoader(OneAtATime(images, labels), 128, True),
    "fast path, uint8 -> float per batch": DataLoader(
        data, 128, shuffle=True, seed=0, transform=to_input
    ),
    "fast path, float32 set up front": DataLoader(
        TensorDataset(prepared, labels), 128, shuffle=True, seed=0
    ),
    "fast path, crop + flip + float": DataLoader(
        data, 128, shuffle=True, seed=0, transform=recipe
    ),
}
rates = {name: images_per_second(dl) for name, dl in loaders.items()}
for name, rate in rates.items():
    print(f"{name:<36} {rate:>10,.0f} images/s")
full = rates["fast path, crop + flip + float"]
print(f"a 50,000-image epoch with the full recipe: {50_000 / full:.2f} s")
per_batch = 128 / rates["fast path, uint8 -> float per batch"]
convert = per_batch - 128 / rates["fast path, uint8"]
print(f"converting and normalising, per batch of 128: {convert * 1e6:.0f} us")

top, left = rng.integers(0, 9, 128), rng.integers(0, 9, 128)
padded_batch = np.pad(batch_u8, ((0, 0), (0, 0), (4, 4), (4, 4)))  # (128, 3, 40, 40)
for name, fn in [("crop, loop", crop_loop), ("crop, vectorised", crop)]:
    cost = microseconds(lambda fn=fn: fn(padded_batch, top, left, 32))
    print(f"{name:<18} {cost:8.0f} us per batch of 128")
xb, yb = next(iter(loaders["fast path, crop + flip + float"]))
print("a training batch:", xb.shape, xb.dtype, yb.shape, yb.dtype)
del prepared

# %% [markdown]
# What to read in those numbers:
#
# - The prepared float32 set holds four times the memory of the uint8 set. What
#   it saves is the per-batch conversion, printed above in microseconds. Set
#   that against a training step of the CNN in module 09, which you will
#   measure in hundreds of milliseconds: the memory is the real cost.
# - Compare the fast path with the per-sample path: that gap is one Python call
#   per image, and it is why `TensorDataset` is fetched a batch at a time.
# - The vectorised crop and the loop do the same copy; the loop pays Python's
#   overhead 128 times per batch. Your numbers show how much that is here.
# - The full recipe's epoch time is what augmentation adds to each epoch of
#   milestone 04, next to minutes of forward and backward passes.
#
# ## What you built
#
# `tinytorch.data` now has `Dataset`, `TensorDataset`, `DataLoader` and the
# transforms `RandomCrop`, `RandomHorizontalFlip`, `ToFloat`, `Normalize` and
# `Compose`. Milestone 04 uses them like this:
#
# ```python
# train = DataLoader(TensorDataset(cifar.train_x, cifar.train_y), batch_size=128,
#                    shuffle=True, drop_last=True, seed=0, transform=recipe)
# for x, y in train:                  # x (128, 3, 32, 32) float32, y (128,) int64
#     loss = loss_fn(model(Tensor(x)), y)
# ```
#
# `Normalize` works in the units of its input: given mean and std in pixel
# units (0 to 255) it takes uint8 batches directly and `ToFloat` can be left
# out, one pass over the batch fewer.
#
# Next, module 09 builds the convolutions that consume these batches.

"""Small data the project makes itself, for tests and offline demos.

`load_shapes`: ten classes of simple shapes (disk, ring, square, ...) drawn
at random places, sizes and colours on a noisy background, 3 x 32 x 32 uint8
like CIFAR-10, so a small CNN learns it in seconds. `tiny_corpus`: a few
thousand lines of generated dialogue. Both are deterministic for a seed,
written here (no third-party text), and never stand in for the real data:
callers ask for them by name.
"""

from __future__ import annotations

import numpy as np

from tito.datasets.imageset import ImageSet

SHAPES = [
    "disk",
    "ring",
    "square",
    "frame",
    "diamond",
    "plus",
    "cross",
    "triangle",
    "hstripes",
    "vstripes",
]
SIZE = 32


def load_shapes(n_train: int = 5000, n_test: int = 1000, seed: int = 0) -> ImageSet:
    """A generated 10-class image set with CIFAR-10's fields, shapes and dtypes."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    labels = rng.permutation(np.arange(n) % len(SHAPES)).astype(np.int64)  # (N,)
    images = _draw(labels, rng)  # (N, 3, 32, 32)
    return ImageSet(
        images[:n_train],
        labels[:n_train],
        images[n_train:],
        labels[n_train:],
        list(SHAPES),
        source=f"generated shapes (seed {seed})",
    )


def _draw(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(labels)
    cx, cy = rng.uniform(10, 22, (2, n, 1, 1)).astype(np.float32)  # centres
    r = rng.uniform(6, 10, (n, 1, 1)).astype(np.float32)  # half sizes
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)  # (32, 32)
    dx, dy = x - cx, y - cy  # (N, 32, 32)

    mask = np.zeros((n, SIZE, SIZE), bool)
    for k in range(len(SHAPES)):
        pick = labels == k
        mask[pick] = _mask(k, dx[pick], dy[pick], r[pick])

    dark = rng.uniform(0, 90, (n, 3)).astype(np.float32)
    light = rng.uniform(150, 255, (n, 3)).astype(np.float32)
    swap = rng.random(n) < 0.5
    fg = np.where(swap[:, None], dark, light)[:, :, None, None]  # (N, 3, 1, 1)
    bg = np.where(swap[:, None], light, dark)[:, :, None, None]
    img = np.where(mask[:, None], fg, bg)  # (N, 3, 32, 32)
    noise = rng.random(img.shape, dtype=np.float32)  # uniform: fast, and noisy enough
    img += 40 * noise - 20
    return np.clip(img, 0, 255, out=img).astype(np.uint8)


def _mask(k: int, dx, dy, r) -> np.ndarray:
    """The pixels of shape `k` for offsets (dx, dy) from its centre and half size r."""
    ax, ay = np.abs(dx), np.abs(dy)
    round_, box = np.hypot(dx, dy), np.maximum(ax, ay)
    inside = box <= 0.8 * r
    if k == 0:
        return round_ <= r
    if k == 1:
        return (round_ <= r) & (round_ >= r - 2.5)
    if k == 2:
        return inside
    if k == 3:
        return inside & (box >= 0.8 * r - 2.5)
    if k == 4:
        return ax + ay <= r
    if k == 5:
        return ((ax <= 1.5) | (ay <= 1.5)) & (box <= r)
    if k == 6:
        return (np.abs(ax - ay) <= 1.5) & inside
    if k == 7:
        return (dy >= -r) & (dy <= 0.7 * r) & (ax <= 0.6 * (dy + r))
    if k == 8:
        return inside & (np.floor((dy + r) / 2.5) % 2 == 0)
    return inside & (np.floor((dx + r) / 2.5) % 2 == 0)


_WHO = ["ANNA", "BRUNO", "CLARA", "DMITRI", "ELSA", "FELIX"]
_DET = ["the", "a", "that", "every", "my", "your"]
_ADJ = ["small", "old", "bright", "quiet", "red", "cold", "brave", "strange"]
_NOUN = ["cat", "river", "lamp", "king", "garden", "letter", "ship", "storm", "bird"]
_VERB = ["sees", "finds", "keeps", "follows", "loves", "fears", "carries", "hears"]
_END = [".", ".", ".", "!", "?"]


def tiny_corpus(lines: int = 2000, seed: int = 0) -> str:
    """Generated play-like dialogue: speaker lines, then short sentences."""
    rng = np.random.default_rng(seed)
    pick = lambda words: words[rng.integers(len(words))]  # noqa: E731
    out = []
    for _ in range(lines):
        out.append(f"{pick(_WHO)}:")
        for _ in range(rng.integers(1, 3)):
            subject = f"{pick(_DET)} {pick(_ADJ)} {pick(_NOUN)}"
            sentence = f"{subject} {pick(_VERB)} {pick(_DET)} {pick(_NOUN)}"
            out.append(sentence[0].upper() + sentence[1:] + pick(_END))
        out.append("")
    return "\n".join(out)

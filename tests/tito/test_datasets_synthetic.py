"""load_shapes: CIFAR-10's shapes and dtypes, deterministic, and learnable."""

import numpy as np

from tito.datasets import load_shapes


def test_fields_shapes_and_dtypes_match_cifar10():
    s = load_shapes(n_train=50, n_test=20, seed=0)

    assert s.train_x.shape == (50, 3, 32, 32) and s.train_x.dtype == np.uint8
    assert s.test_x.shape == (20, 3, 32, 32) and s.test_x.dtype == np.uint8
    assert s.train_y.shape == (50,) and s.train_y.dtype == np.int64
    assert s.test_y.shape == (20,) and s.test_y.dtype == np.int64
    assert len(s.classes) == 10 and len(set(s.classes)) == 10


def test_deterministic_by_seed_and_different_across_seeds():
    a, b, c = (
        load_shapes(40, 10, seed=3),
        load_shapes(40, 10, seed=3),
        load_shapes(40, 10, seed=4),
    )

    np.testing.assert_array_equal(a.train_x, b.train_x)
    np.testing.assert_array_equal(a.test_y, b.test_y)
    assert not np.array_equal(a.train_x, c.train_x)


def test_classes_are_balanced_and_pixels_use_the_range():
    s = load_shapes(n_train=400, n_test=100, seed=1)

    counts = np.bincount(np.concatenate([s.train_y, s.test_y]), minlength=10)
    assert counts.min() == counts.max() == 50
    assert s.train_x.min() < 30 and s.train_x.max() > 225


def _invariant_features(x):
    """Foreground map (distance from the border colour), |FFT|: shift-invariant."""
    x = x.astype(np.float32)  # (N, 3, 32, 32)
    border = np.concatenate([x[:, :, 0, :], x[:, :, -1, :]], axis=2).mean(axis=2)
    fg = np.abs(x - border[:, :, None, None]).mean(axis=1)  # (N, 32, 32)
    f = np.abs(np.fft.fft2(fg)).reshape(len(x), -1)  # (N, 1024)
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def test_a_simple_shift_invariant_model_separates_the_classes():
    # the nearest class centre in a shift-invariant feature space beats chance
    # (10%) by far, so the classes are learnable by a model that sees shapes
    s = load_shapes(n_train=1000, n_test=500, seed=2)
    train, test = _invariant_features(s.train_x), _invariant_features(s.test_x)

    centres = np.stack([train[s.train_y == k].mean(0) for k in range(10)])  # (10, F)
    dist = ((test[:, None] - centres[None]) ** 2).sum(-1)  # (M, 10)
    accuracy = (dist.argmin(1) == s.test_y).mean()

    assert accuracy > 0.9

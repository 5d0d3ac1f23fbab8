"""Checks for module 04: cross-entropy and mean squared error.

Values against a float64 NumPy reference, gradients against finite differences.
"""

import numpy as np
import pytest
import tinytorch.nn as nn
from numgrad import check_gradients
from tinytorch import Tensor
from tinytorch.nn.losses import cross_entropy, mse_loss

rng = np.random.default_rng(4)


def reference(z, t, ignore_index=-100, e=0.0):
    """Mean cross-entropy over rows whose target is not ignored, float64."""
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    keep = t != ignore_index
    C = z.shape[1]
    target = np.zeros_like(logp)
    target[np.arange(len(t))[keep], t[keep]] = 1.0
    target = (1 - e) * target + e / C
    rows = -(target * logp).sum(axis=1)
    return rows[keep].mean()


def test_hand_worked_value_and_gradient():
    z = Tensor([[0.0, 0.0]], requires_grad=True)
    loss = cross_entropy(z, np.array([0]))
    loss.backward()
    assert np.isclose(loss.item(), np.log(2))
    np.testing.assert_allclose(z.grad, [[-0.5, 0.5]])


def test_matches_reference_and_gradients():
    z, t = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    out = cross_entropy(Tensor(z), t)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.item(), reference(z, t), rtol=1e-5)
    check_gradients(lambda z: cross_entropy(z, t), z)


def test_stable_at_large_logits():
    loss = cross_entropy(Tensor([[1000.0, 0.0], [0.0, -1000.0]]), np.array([1, 0]))
    np.testing.assert_allclose(loss.item(), 500.0)
    z = Tensor([[1000.0, -1000.0]], requires_grad=True)
    cross_entropy(z, np.array([1])).backward()
    assert np.isfinite(z.grad).all()


def test_ignore_index():
    z, t = rng.standard_normal((5, 4)), np.array([1, -100, 3, -100, 0])
    np.testing.assert_allclose(
        cross_entropy(Tensor(z), t).item(), reference(z, t), rtol=1e-5
    )
    out = check_gradients(lambda z: cross_entropy(z, t), z)
    zt = Tensor(z, requires_grad=True)
    cross_entropy(zt, t).backward()
    assert not zt.grad[1].any() and not zt.grad[3].any()
    assert np.isfinite(out.data)
    t = np.array([7, 7])
    assert cross_entropy(Tensor(z[:2]), t, ignore_index=7).item() == 0.0


def test_label_smoothing():
    z, t = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    got = cross_entropy(Tensor(z), t, label_smoothing=0.1).item()
    np.testing.assert_allclose(got, reference(z, t, e=0.1), rtol=1e-5)
    check_gradients(lambda z: cross_entropy(z, t, label_smoothing=0.2), z)
    # Uniform logits: every class has log-probability -log C, whatever the target.
    same = cross_entropy(Tensor(np.zeros((1, 4))), np.array([2]), label_smoothing=0.3)
    np.testing.assert_allclose(same.item(), np.log(4), rtol=1e-6)


def test_class_axis_one_for_sequences():
    z, t = rng.standard_normal((2, 5, 3)), rng.integers(0, 5, (2, 3))
    flat_z = np.moveaxis(z, 1, -1).reshape(-1, 5)
    np.testing.assert_allclose(
        cross_entropy(Tensor(z), t).item(), reference(flat_z, t.reshape(-1)), rtol=1e-5
    )
    check_gradients(lambda z: cross_entropy(z, t), z)


def test_reductions():
    z, t = rng.standard_normal((3, 4)), rng.integers(0, 4, 3)
    per_row = cross_entropy(Tensor(z), t, reduction="none").data
    assert per_row.shape == (3,)
    np.testing.assert_allclose(per_row.mean(), reference(z, t), rtol=1e-5)
    total = cross_entropy(Tensor(z), t, reduction="sum").item()
    np.testing.assert_allclose(total, per_row.sum(), rtol=1e-5)
    check_gradients(lambda z: cross_entropy(z, t, reduction="none"), z)


def test_label_errors_name_the_problem():
    z = Tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="float"):
        cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(2,\)"):
        cross_entropy(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="target 4"):
        cross_entropy(z, np.array([0, 4, 1]))


def test_mse():
    p, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(
        mse_loss(Tensor(p), y).item(), ((p - y) ** 2).mean(), rtol=1e-5
    )
    check_gradients(lambda p: mse_loss(p, y), p)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        mse_loss(Tensor(p), y.T)


def test_loss_modules():
    z, t = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    loss = nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.1)
    np.testing.assert_allclose(
        loss(Tensor(z), t).item(), reference(z, t, ignore_index=1, e=0.1), rtol=1e-5
    )
    p, y = rng.standard_normal(5), rng.standard_normal(5)
    np.testing.assert_allclose(
        nn.MSELoss()(Tensor(p), Tensor(y)).item(), ((p - y) ** 2).mean(), rtol=1e-5
    )

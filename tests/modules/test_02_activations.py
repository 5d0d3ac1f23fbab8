"""Checks for module 02: activations and fused ops in `tinytorch.nn.functional`.

Values against NumPy references (math.erf for GELU), gradients against finite
differences in float64.
"""

import math

import numpy as np
import pytest
import tinytorch.nn.functional as F
from numgrad import check_gradients
from tinytorch import Tensor

rng = np.random.default_rng(2)


def randn(*shape):
    return rng.standard_normal(shape)


def away_from_zero(*shape):
    x = randn(*shape)
    x[np.abs(x) < 0.1] = 0.7
    return x


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def test_relu_sigmoid_tanh_values_and_gradients():
    x = away_from_zero(3, 5)
    np.testing.assert_allclose(F.relu(Tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(
        F.sigmoid(Tensor(x)).data, 1 / (1 + np.exp(-x)), rtol=1e-6
    )
    np.testing.assert_allclose(F.tanh(Tensor(x)).data, np.tanh(x), rtol=1e-6)
    for fn in (F.relu, F.sigmoid, F.tanh):
        check_gradients(fn, x)


def test_gelu_matches_tanh_formula_and_exact_gelu():
    x = np.linspace(-6, 6, 49)
    out = F.gelu(Tensor(x, dtype=np.float64)).data
    np.testing.assert_allclose(out, gelu_tanh(x), rtol=1e-12, atol=1e-12)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(out, exact, atol=1e-3)
    assert F.gelu(Tensor(x)).dtype == np.float32


def test_gelu_gradient():
    check_gradients(F.gelu, randn(4, 6) * 2)


def test_gelu_is_finite_far_from_zero():
    x = Tensor([-1000.0, -30.0, 30.0, 1000.0], requires_grad=True)
    y = F.gelu(x)
    y.sum().backward()
    np.testing.assert_allclose(y.data, [0.0, 0.0, 30.0, 1000.0])
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_accepts_dim_and_axis(fn):
    x = randn(3, 4)
    a = fn(Tensor(x), dim=0).data
    b = fn(Tensor(x), axis=0).data
    np.testing.assert_array_equal(a, b)
    check_gradients(lambda t: fn(t, dim=0), x)


def test_dropout_in_evaluation_is_identity():
    x = Tensor(randn(10), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0, training=True) is x


def test_dropout_rate_scale_and_gradient():
    np.random.seed(1)
    x = Tensor(np.ones(200_000), requires_grad=True)
    y = F.dropout(x, 0.3, training=True)
    zero = y.data == 0
    assert abs(zero.mean() - 0.3) < 0.005
    np.testing.assert_allclose(y.data[~zero], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # d/dx of x * mask / (1 - p)


def test_dropout_follows_numpy_seed():
    np.random.seed(5)
    a = F.dropout(Tensor(np.ones(50)), 0.5).data
    np.random.seed(5)
    b = F.dropout(Tensor(np.ones(50)), 0.5).data
    np.testing.assert_array_equal(a, b)


def test_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match="1.0"):
        F.dropout(Tensor(np.ones(3)), 1.0)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_linear_matches_numpy_and_gradients(shape):
    x, w, b = randn(*shape), randn(4, 3), randn(4)
    out = F.linear(Tensor(x), Tensor(w), Tensor(b)).data
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-5, atol=1e-6)
    check_gradients(F.linear, x, w, b)
    check_gradients(lambda x, w: F.linear(x, w), x, w)


def test_linear_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4, 2\)"):
        F.linear(Tensor(np.ones((5, 3))), Tensor(np.ones((4, 2))))


def layer_norm_reference(x, w, b, eps, k):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


@pytest.mark.parametrize("normalized", [(4,), (3, 4)])
def test_layer_norm_matches_reference_and_gradients(normalized):
    x = randn(2, 3, 4) * 3 + 1
    w, b = randn(*normalized), randn(*normalized)
    out = F.layer_norm(Tensor(x), normalized, Tensor(w), Tensor(b), 1e-5).data
    ref = layer_norm_reference(x, w, b, 1e-5, len(normalized))
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    check_gradients(lambda x, w, b: F.layer_norm(x, normalized, w, b), x, w, b)
    check_gradients(lambda x: F.layer_norm(x, normalized), x)


def test_layer_norm_hand_value_and_shape_error():
    y = F.layer_norm(Tensor([[1.0, 2.0, 3.0]]), 3)
    np.testing.assert_allclose(y.data, [[-1.2247, 0.0, 1.2247]], atol=1e-4)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        F.layer_norm(Tensor(np.ones((2, 3))), 4)


def test_losses_are_reachable_from_functional():
    assert callable(F.cross_entropy) and callable(F.mse_loss)
    with pytest.raises(AttributeError):
        F.no_such_function  # noqa: B018


# -- large arrays: elementwise work split across threads ----------------------


def test_split_rows_covers_every_row_once_in_order(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    a = np.zeros((100_001, 2))
    seen = F.split_rows(lambda block: (block.__iadd__(1), len(block))[1], a)
    assert len(seen) == 3 and sum(seen) == len(a)
    np.testing.assert_array_equal(a, 1.0)  # every row written exactly once
    assert F.split_rows(len, np.zeros((10, 2))) == [10]  # small: one call

    def fails(block):
        raise RuntimeError("kernel failed")

    with pytest.raises(RuntimeError, match="kernel failed"):
        F.split_rows(fails, a)


@pytest.mark.parametrize("threads", ["1", "3"])
def test_gelu_and_layer_norm_on_large_inputs(monkeypatch, threads):
    # big enough to be split across threads; float64 against hand formulas
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    x = randn(301, 257) * 2
    g = randn(301, 257)
    t = Tensor(x, dtype=np.float64, requires_grad=True)
    y = F.gelu(t)
    y.backward(g)
    np.testing.assert_allclose(y.data, gelu_tanh(x), rtol=1e-12, atol=1e-12)
    c, k = math.sqrt(2 / math.pi), 0.044715
    th = np.tanh(c * (x + k * x**3))
    dgelu = 0.5 * (1 + th) + 0.5 * x * (1 - th**2) * c * (1 + 3 * k * x**2)
    np.testing.assert_allclose(t.grad, g * dgelu, rtol=1e-10, atol=1e-12)

    w, b = randn(257), randn(257)
    ts = [Tensor(a, dtype=np.float64, requires_grad=True) for a in (x, w, b)]
    out = F.layer_norm(ts[0], 257, ts[1], ts[2])
    out.backward(g)
    np.testing.assert_allclose(out.data, layer_norm_reference(x, w, b, 1e-5, 1))
    xhat = layer_norm_reference(x, 1.0, 0.0, 1e-5, 1)
    rstd = 1 / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    gh = g * w
    gx = rstd * (
        gh - gh.mean(1, keepdims=True) - xhat * (gh * xhat).mean(1, keepdims=True)
    )
    np.testing.assert_allclose(ts[0].grad, gx, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ts[1].grad, (g * xhat).sum(0), rtol=1e-10)
    np.testing.assert_allclose(ts[2].grad, g.sum(0), rtol=1e-10)

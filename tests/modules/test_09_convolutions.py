"""Checks for module 09: Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d and Flatten.

Forward passes are compared with plain loops written here; gradients with
central finite differences in float64; batch norm with NumPy by hand.
"""

import numpy as np
import pytest
from tinytorch import Tensor
from tinytorch.autograd import gradcheck
from tinytorch.nn.conv import AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.nn.modules import Linear, ReLU, Sequential


def rng(seed=0):
    return np.random.default_rng(seed)


def conv_loop(x, w, b, stride, padding):
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (H + 2 * padding - kh) // stride + 1
    Wo = (W + 2 * padding - kw) // stride + 1
    out = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    top, left = i * stride, j * stride
                    window = xp[n, :, top : top + kh, left : left + kw]
                    out[n, o, i, j] = (window * w[o]).sum() + (
                        b[o] if b is not None else 0
                    )
    return out


def pool_loop(x, k, stride, reduce):
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // stride + 1, (W - k) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def as_float64(module, *names):
    """Swap the named parameters for float64 tensors, so gradcheck can drive them."""
    for name in names:
        value = getattr(module, name)
        setattr(module, name, Tensor(value.data, requires_grad=True, dtype=np.float64))


# -- Conv2d -------------------------------------------------------------------

CASES = [  # (kernel, stride, padding, H, W)
    (3, 1, 0, 5, 5),
    (3, 1, 1, 5, 4),  # non-square, same size out
    (3, 2, 0, 6, 8),  # the floor drops the last row and the last column
    (3, 2, 1, 6, 5),
    (1, 1, 0, 4, 3),  # 1x1
    (1, 2, 0, 5, 4),  # 1x1 that skips pixels
    (2, 2, 1, 5, 6),
    (5, 1, 2, 2, 3),  # same size out, kernel bigger than the image
    (3, 1, 1, 1, 4),  # same size out, one row
]


@pytest.mark.parametrize("k, stride, padding, H, W", CASES)
def test_conv_forward_matches_loop(k, stride, padding, H, W):
    x = rng().standard_normal((2, 3, H, W)).astype(np.float32)
    conv = Conv2d(3, 4, k, stride=stride, padding=padding)
    conv.bias.data[...] = rng(1).standard_normal(4)
    out = conv(Tensor(x))
    want = conv_loop(x, conv.weight.data, conv.bias.data, stride, padding)
    assert out.shape == want.shape
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, want, atol=1e-5)


@pytest.mark.parametrize("c_in, c_out", [(2, 3), (3, 2)])  # widening or not
@pytest.mark.parametrize("k, stride, padding, H, W", CASES)
def test_conv_gradients_match_finite_differences(k, stride, padding, H, W, c_in, c_out):
    conv = Conv2d(c_in, c_out, k, stride=stride, padding=padding)
    conv.bias.data[...] = rng(1).standard_normal(c_out)
    x = rng().standard_normal((2, c_in, H, W))

    def f(x, w, b):
        conv.weight, conv.bias = w, b
        return conv(x)

    assert gradcheck(f, [x, conv.weight.data, conv.bias.data], atol=1e-6, rtol=1e-5)


def test_conv_pixels_no_window_reads_get_exactly_zero_gradient():
    conv = Conv2d(2, 3, 3, stride=2)  # windows start at rows 0, 2 and columns 0, 2, 4
    x = Tensor(rng().standard_normal((2, 2, 6, 8)), requires_grad=True)
    out = conv(x)
    assert out.shape == (2, 3, 2, 3)
    out.sum().backward()
    assert np.all(x.grad[:, :, 5, :] == 0)  # row 5 is never read
    assert np.all(x.grad[:, :, :, 7] == 0)  # nor column 7
    assert np.all(x.grad[:, :, :5, :7] != 0)


def test_conv_without_bias_and_tuple_arguments():
    conv = Conv2d(3, 2, (3, 1), stride=(2, 1), padding=(1, 0), bias=False)
    assert conv.bias is None and conv.weight.shape == (2, 3, 3, 1)
    assert len(conv.parameters()) == 1
    x = rng().standard_normal((1, 3, 5, 4)).astype(np.float32)
    out = conv(Tensor(x)).data
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    want = np.einsum("nchw,oc->nohw", xp[:, :, 0:5:2], conv.weight.data[:, :, 0, 0])
    want += np.einsum("nchw,oc->nohw", xp[:, :, 1:6:2], conv.weight.data[:, :, 1, 0])
    want += np.einsum("nchw,oc->nohw", xp[:, :, 2:7:2], conv.weight.data[:, :, 2, 0])
    np.testing.assert_allclose(out, want, atol=1e-5)


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 0), (1, 0)])
@pytest.mark.parametrize("n", [2, 40])  # 40 images: split between threads
def test_conv_input_memory_layout_does_not_matter(stride, padding, n):
    x = rng().standard_normal((n, 3, 11, 12)).astype(np.float32)
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    conv = Conv2d(3, 4, 3, stride=stride, padding=padding)
    out = conv(Tensor(x)).data
    np.testing.assert_array_equal(out, conv(Tensor(channels_last)).data)
    want = conv_loop(x, conv.weight.data, conv.bias.data, stride, padding)
    np.testing.assert_allclose(out, want, atol=1e-5)


def test_conv_weight_gradient_hand_worked():
    # one 1x1 kernel on a 2x2 image: d(sum out)/dw = sum of the image
    conv = Conv2d(1, 1, 1)
    x = Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    conv(x).sum().backward()
    assert conv.weight.grad.reshape(-1).tolist() == [10.0]
    assert conv.bias.grad.tolist() == [4.0]


def test_conv_wrong_channels_names_the_shape():
    with pytest.raises(ValueError, match=r"\(2, 4, 5, 5\)"):
        Conv2d(3, 4, 3)(Tensor(np.zeros((2, 4, 5, 5))))
    with pytest.raises(ValueError, match=r"\(4, 5, 5\)"):
        Conv2d(3, 4, 3)(Tensor(np.zeros((4, 5, 5))))


# -- pooling ------------------------------------------------------------------

POOLS = [(2, None, 4, 6), (2, None, 5, 7), (3, 2, 7, 6), (2, 1, 4, 5), (3, 3, 7, 8)]


@pytest.mark.parametrize("k, stride, H, W", POOLS)
def test_maxpool_forward_matches_loop(k, stride, H, W):
    x = rng().standard_normal((2, 3, H, W)).astype(np.float32)
    out = MaxPool2d(k, stride)(Tensor(x))
    np.testing.assert_array_equal(out.data, pool_loop(x, k, stride or k, np.max))


@pytest.mark.parametrize("k, stride, H, W", POOLS)
def test_avgpool_forward_matches_loop(k, stride, H, W):
    x = rng().standard_normal((2, 3, H, W)).astype(np.float32)
    out = AvgPool2d(k, stride)(Tensor(x))
    np.testing.assert_allclose(
        out.data, pool_loop(x, k, stride or k, np.mean), atol=1e-6
    )


@pytest.mark.parametrize("k, stride, H, W", POOLS)
def test_pool_gradients_match_finite_differences(k, stride, H, W):
    # distinct values far apart, so a nudge of eps never changes the maximum
    x = rng().permutation(2 * 2 * H * W).reshape(2, 2, H, W) / 10.0
    assert gradcheck(MaxPool2d(k, stride), [x])
    assert gradcheck(AvgPool2d(k, stride), [rng().standard_normal((2, 2, H, W))])


def test_maxpool_ties_pass_the_gradient_once():
    x = Tensor(np.full((1, 2, 4, 4), 3.0), requires_grad=True)
    out = MaxPool2d(2)(x)  # every window holds four equal values
    g = np.arange(1.0, 9.0).reshape(1, 2, 2, 2)
    out.backward(g)
    windows = x.grad.reshape(1, 2, 2, 2, 2, 2).sum(axis=(3, 5))  # per window
    np.testing.assert_array_equal(windows, g)
    assert (x.grad != 0).sum() == 8  # one input per window


def test_maxpool_ties_after_relu_and_overlapping_windows():
    x = Tensor(np.zeros((1, 1, 5, 5)), requires_grad=True)
    out = MaxPool2d(3, 1)(x)  # overlapping windows of zeros
    out.sum().backward()
    assert x.grad.sum() == out.data.size  # each window passes on exactly 1


def test_pool_drops_the_floor_rows_with_zero_gradient():
    x = Tensor(rng().standard_normal((1, 2, 5, 5)), requires_grad=True)
    MaxPool2d(2)(x).sum().backward()
    assert np.all(x.grad[:, :, 4, :] == 0) and np.all(x.grad[:, :, :, 4] == 0)
    assert x.grad[:, :, :4, :4].sum() == 2 * 2 * 2


def maxpool_grad_loop(x, g, k, stride):
    """The input gradient of max pooling: each window's first maximum gets g."""
    grad = np.zeros_like(x)
    N, C, Ho, Wo = g.shape
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = (
                slice(i * stride, i * stride + k),
                slice(j * stride, j * stride + k),
            )
            window = x[:, :, rows, cols].reshape(N, C, k * k)
            first = window.argmax(axis=2)  # (N, C), first in reading order
            hit = np.zeros_like(window)
            np.put_along_axis(hit, first[..., None], 1.0, axis=2)
            grad[:, :, rows, cols] += (
                hit.reshape(N, C, k, k) * g[:, :, i, j, None, None]
            )
    return grad


@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("k, stride", [(2, 2), (3, 2)])
def test_maxpool_on_large_batches_matches_loop(monkeypatch, threads, k, stride):
    # big enough to be cut into blocks of images, one per thread
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    x = rng().integers(0, 6, (5, 16, 41, 40)).astype(np.float32)  # many ties
    t = Tensor(x, requires_grad=True)
    out = MaxPool2d(k, stride)(t)
    np.testing.assert_array_equal(out.data, pool_loop(x, k, stride, np.max))
    g = rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    np.testing.assert_allclose(t.grad, maxpool_grad_loop(x, g, k, stride), atol=1e-5)


@pytest.mark.parametrize("k, stride", [(2, 2), (3, 2)])
def test_maxpool_on_blocks_bigger_than_a_cache_matches_loop(monkeypatch, k, stride):
    # 5 MB of input on one thread: done in pieces of a few images each
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("TINYTORCH_NUM_THREADS", raising=False)
    x = rng().integers(0, 6, (6, 48, 67, 66)).astype(np.float32)  # odd rows too
    t = Tensor(x, requires_grad=True)
    out = MaxPool2d(k, stride)(t)
    np.testing.assert_array_equal(out.data, pool_loop(x, k, stride, np.max))
    g = rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    np.testing.assert_allclose(t.grad, maxpool_grad_loop(x, g, k, stride), atol=1e-5)


@pytest.mark.parametrize("threads", ["1", "3"])
def test_conv_on_large_batches_matches_loop(monkeypatch, threads):
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    x = rng().standard_normal((5, 8, 40, 40))
    conv = Conv2d(8, 3, 3, padding=1)
    as_float64(conv, "weight", "bias")
    w, b = conv.weight.data, conv.bias.data
    t = Tensor(x, requires_grad=True, dtype=np.float64)
    out = conv(t)
    np.testing.assert_allclose(out.data, conv_loop(x, w, b, 1, 1), atol=1e-10)
    g = rng(1).standard_normal(out.shape)
    out.backward(g)
    want = np.zeros((5, 8, 42, 42))  # the adjoint of the loop, padded
    for i in range(40):
        for j in range(40):
            # (N, O) x (O, C, 3, 3) -> (N, C, 3, 3)
            want[:, :, i : i + 3, j : j + 3] += np.einsum(
                "no,ocuv->ncuv", g[:, :, i, j], w
            )
    np.testing.assert_allclose(t.grad, want[:, :, 1:-1, 1:-1], atol=1e-10)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want_w = np.zeros((3, 8, 3, 3))  # sum over positions of g times the window
    for u in range(3):
        for v in range(3):
            window = xp[:, :, u : u + 40, v : v + 40]  # (N, C, 40, 40)
            want_w[:, :, u, v] = np.einsum("nohw,nchw->oc", g, window)
    np.testing.assert_allclose(conv.weight.grad, want_w, atol=1e-9)
    np.testing.assert_allclose(conv.bias.grad, g.sum(axis=(0, 2, 3)), atol=1e-9)


# -- BatchNorm2d --------------------------------------------------------------


def bn_reference(x, eps=1e-5):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def test_batchnorm_training_normalises_per_channel():
    x = rng().standard_normal((4, 3, 5, 6)) * [[[[2.0]], [[0.5]], [[3.0]]]] + 1.5
    bn = BatchNorm2d(3)
    bn.weight.data[...] = [1.0, 2.0, -1.0]
    bn.bias.data[...] = [0.0, 0.5, 1.0]
    out = bn(Tensor(x.astype(np.float32)))
    want = bn_reference(x) * bn.weight.data.reshape(1, 3, 1, 1)
    want += bn.bias.data.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out.data, want, atol=1e-4)


def test_batchnorm_running_statistics_and_eval():
    bn = BatchNorm2d(2)
    mean, var = np.zeros(2), np.ones(2)
    batches = [rng(s).standard_normal((3, 2, 4, 4)) * 2 + s for s in range(3)]
    for x in batches:
        bn(Tensor(x.astype(np.float32)))
        m = x.shape[0] * x.shape[2] * x.shape[3]
        mean = 0.9 * mean + 0.1 * x.mean(axis=(0, 2, 3))
        var = 0.9 * var + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-4, atol=1e-5)

    bn.eval()
    x = rng(9).standard_normal((2, 2, 3, 3)).astype(np.float32)
    before = bn.running_mean.copy()
    out = bn(Tensor(x))
    want = (x - mean.reshape(1, 2, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(out.data, want, atol=1e-4)
    np.testing.assert_array_equal(bn.running_mean, before)  # eval does not update
    state = bn.state_dict()
    assert {"running_mean", "running_var", "weight", "bias"} <= set(state)
    assert all(p is not bn.running_mean for p in bn.parameters())


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients_match_finite_differences(training):
    bn = BatchNorm2d(2)
    bn.running_mean[...] = [0.5, -1.0]
    bn.running_var[...] = [2.0, 0.5]
    bn.train(training)
    bn.weight.data[...] = [1.5, -0.5]
    bn.bias.data[...] = [0.2, 0.3]
    as_float64(bn, "weight", "bias")
    x = rng().standard_normal((3, 2, 3, 4)) * 2 + 1

    def f(x, gamma, beta):
        bn.weight, bn.bias = gamma, beta
        return bn(x)

    assert gradcheck(f, [x, bn.weight.data, bn.bias.data], atol=1e-6, rtol=1e-5)


# -- Flatten and a whole CNN --------------------------------------------------


def test_flatten_keeps_the_graph():
    x = Tensor(rng().standard_normal((2, 3, 2, 2)), requires_grad=True)
    out = Flatten()(x)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out.data, x.data.reshape(2, 12))
    (out * Tensor(np.arange(24.0).reshape(2, 12))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(24.0).reshape(2, 3, 2, 2))


def test_every_parameter_of_a_small_cnn_gets_a_gradient():
    model = Sequential(
        Conv2d(3, 4, 3, padding=1),
        BatchNorm2d(4),
        ReLU(),
        MaxPool2d(2),
        Conv2d(4, 6, 3, stride=2, padding=1),
        ReLU(),
        AvgPool2d(2),
        Flatten(),
        Linear(6, 10),
    )
    x = Tensor(rng().standard_normal((4, 3, 8, 8)).astype(np.float32))
    loss = (model(x) * Tensor(rng(1).standard_normal((4, 10)))).sum()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert p.grad.shape == p.shape
        if not name.startswith("0.bias"):  # a bias before batch norm has none
            assert np.abs(p.grad).sum() > 0, f"{name} got an all-zero gradient"

"""Checks for module 05: custom ops with `Function`, and `gradcheck`."""

import numpy as np
import pytest
from numgrad import check_gradients
from tinytorch import Tensor, no_grad
from tinytorch.autograd import Function, gradcheck

rng = np.random.default_rng(5)


class ScaledDot(Function):
    """(x * w).sum(-1) * scale, with the scale a non-tensor argument."""

    @staticmethod
    def forward(ctx, x, w, scale=1.0):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        return (x * w).sum(axis=-1) * scale

    @staticmethod
    def backward(ctx, grad_out):
        x, w = ctx.saved_tensors
        g = grad_out[..., None] * ctx.scale
        gx = g * w if ctx.needs_input_grad[0] else None
        gw = g * x if ctx.needs_input_grad[1] else None
        return gx, gw, None


class Wrong(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * x  # missing factor 2


def test_function_forward_and_gradients():
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out = ScaledDot.apply(Tensor(x), Tensor(w), 2.0)
    np.testing.assert_allclose(out.data, (x * w).sum(-1) * 2, rtol=1e-5)
    check_gradients(lambda x, w: ScaledDot.apply(x, w, 2.0), x, w)
    check_gradients(lambda x, w: ScaledDot.apply(x, w, scale=3.0), x, w)


def test_function_composes_with_other_ops():
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_gradients(lambda x, w: ScaledDot.apply(x.tanh(), w * 2.0, 0.5).exp(), x, w)


def test_needs_input_grad_and_constants():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, w):
            seen["needs"] = ctx.needs_input_grad
            return x + w

        @staticmethod
        def backward(ctx, g):
            return g, None

    x = Tensor(np.ones(2), requires_grad=True)
    y = Probe.apply(x, Tensor(np.ones(2)))
    assert seen["needs"] == (True, False)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    with no_grad():
        assert not Probe.apply(x, x).requires_grad


def test_backward_with_wrong_count_or_shape_fails_clearly():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, w):
            return x * w

        @staticmethod
        def backward(ctx, g):
            return (g,)

    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum(axis=0)

        @staticmethod
        def backward(ctx, g):
            return g

    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="1 gradients for 2"):
        TooFew.apply(x, x).sum().backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        BadShape.apply(x).sum().backward()


def test_output_keeps_input_dtype():
    class Half(Function):
        @staticmethod
        def forward(ctx, x):
            return x * np.float64(0.5)

        @staticmethod
        def backward(ctx, g):
            return g * np.float64(0.5)

    x = Tensor(np.ones(3), requires_grad=True)
    y = Half.apply(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [0.5, 0.5, 0.5]


def test_gradcheck_accepts_right_and_rejects_wrong_backward():
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert gradcheck(lambda x, w: ScaledDot.apply(x, w, 2.0), [x, w]) is True
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(Wrong.apply, [x])


def test_gradcheck_on_builtin_ops_and_integer_inputs():
    x = rng.standard_normal((4, 3))
    idx = np.array([0, 0, 2])
    assert gradcheck(lambda x, i: x[i].softmax(-1), [x, idx])
    assert gradcheck(lambda a, b: (a @ b).tanh(), [x, rng.standard_normal((3, 2))])

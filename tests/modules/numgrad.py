"""The one gradient oracle for the module checks: central finite differences.

`check_gradients(fn, *arrays)` runs `fn` on float64 tensors, back-propagates a
fixed random weighting of the output, and compares every input's gradient with
(f(x + eps) - f(x - eps)) / (2 eps) computed here, element by element. It uses
nothing from tinytorch but `Tensor` and `backward`, so it can judge them.
"""

import numpy as np


def numeric_gradient(fn, arrays, k, weights, eps=1e-6):
    """d sum(fn(*arrays) * weights) / d arrays[k], by central differences."""
    from tinytorch import Tensor

    def value():
        out = fn(*[Tensor(a, dtype=a.dtype) if _is_float(a) else a for a in arrays])
        return float((np.asarray(out.data, dtype=np.float64) * weights).sum())

    x = arrays[k]
    grad = np.zeros(x.shape)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = value()
        flat[i] = keep - eps
        down = value()
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_gradients(fn, *arrays, atol=1e-6, rtol=1e-5, eps=1e-6, seed=0):
    """Assert that tinytorch's gradients of `fn` match finite differences.

    Floating arrays become float64 tensors requiring grad; integer arrays
    (indices, labels) are passed through as they are. Returns the output.
    """
    from tinytorch import Tensor

    arrays = [np.array(a, dtype=np.float64) if _is_float(a) else a for a in arrays]
    inputs = [
        Tensor(a, requires_grad=True, dtype=np.float64) if _is_float(a) else a
        for a in arrays
    ]
    out = fn(*inputs)
    assert out.dtype == np.float64, f"fn turned float64 inputs into {out.dtype}"
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(weights)
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            continue
        expected = numeric_gradient(fn, arrays, k, weights, eps)
        got = np.zeros(t.shape) if t.grad is None else t.grad
        assert got.shape == t.shape, f"input {k}: grad shape {got.shape} != {t.shape}"
        np.testing.assert_allclose(
            got, expected, atol=atol, rtol=rtol, err_msg=f"gradient of input {k}"
        )
    return out


def _is_float(a):
    return np.asarray(a).dtype.kind == "f"

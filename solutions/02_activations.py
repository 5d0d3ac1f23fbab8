# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Activation functions
#
# A stack of linear layers is still one linear map; the non-linearity between
# them is what lets a network bend. This chapter collects the functions a
# network applies to its activations, as plain functions on tensors
# (`tinytorch.nn.functional`, imported as `F`): `relu`, `gelu`, `sigmoid`,
# `tanh`, `softmax`, `log_softmax`, `dropout`, and two fused ops that every
# model uses, `linear` and `layer_norm`. The module classes of chapter 03 are thin
# wrappers around them.
#
# Fused means one graph node with a hand-written backward instead of a chain of
# small ops. GELU as a chain would be nine nodes, each allocating an array of
# the activation's size; as one op it is two temporaries forward and backward.

# %%
#| default_exp nn.functional

# %% [markdown]
# ## The simple ones
#
# `relu`, `sigmoid`, `tanh`, `softmax` and `log_softmax` are already ops of the
# tensor (chapter 01); here they get their functional names. `dim` is accepted
# as PyTorch's spelling of `axis`.

# %%
#| export
"""Functional forms of activations and fused layer ops (`import ... as F`).

Everything here takes and returns tensors. `linear`, `gelu` and `layer_norm`
are single graph nodes with hand-written backward passes; the losses
(`cross_entropy`, `mse_loss`) live in `tinytorch.nn.losses` and are reachable
from here as well.
"""

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tinytorch.tensor import Tensor, op_result, unbroadcast


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def softmax(x, axis=-1, dim=None):
    return x.softmax(axis if dim is None else dim)


def log_softmax(x, axis=-1, dim=None):
    return x.log_softmax(axis if dim is None else dim)


# %% [markdown]
# ## Both cores for elementwise work
#
# NumPy runs a ufunc such as `np.exp` on one core however large the array is,
# while matrix products use every core through BLAS. In a GPT training step
# on two cores, about half the time is elementwise work with one core idle.
# NumPy releases the GIL inside a ufunc on a large array, so plain threads
# can work on different rows at the same time.
#
# `split_rows(kernel, *arrays)` cuts its arrays into matching blocks of rows,
# one per thread, calls `kernel` on each block and waits for all of them. The
# kernel must write only into its own block. The number of threads follows
# `TINYTORCH_NUM_THREADS`, else `OMP_NUM_THREADS` (as BLAS does), else the
# number of cores.
# Arrays under 65,536 elements are not split: starting a thread's work costs
# tens of microseconds.

# %%
#| export
_MIN_SPLIT = 1 << 16  # elements; smaller arrays run on one thread
_pool, _pool_size = None, 0


def num_threads() -> int:
    """Threads for elementwise work: $TINYTORCH_NUM_THREADS, else
    $OMP_NUM_THREADS, else the number of cores."""
    for var in ("TINYTORCH_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return max(1, int(value))
    return os.cpu_count() or 1


def split_rows(kernel, *arrays):
    """kernel(*blocks) on matching row blocks of `arrays`, one block per thread.

    Returns the kernels' results in row order.
    """
    global _pool, _pool_size
    rows = arrays[0].shape[0]
    n = min(num_threads(), rows, arrays[0].size // _MIN_SPLIT)
    if n <= 1:
        return [kernel(*arrays)]
    if _pool_size < n - 1:  # started on first use, never at import
        _pool = ThreadPoolExecutor(n - 1, thread_name_prefix="tinytorch")
        _pool_size = n - 1
    cuts = [rows * i // n for i in range(n + 1)]
    blocks = [
        [a[lo:hi] for a in arrays] for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    rest = [_pool.submit(kernel, *block) for block in blocks[1:]]
    first = kernel(*blocks[0])  # this thread takes the first block
    return [first] + [future.result() for future in rest]  # re-raises errors


# %% [markdown]
# ## GELU
#
# GELU weighs its input by how likely a standard normal variable is to be
# below it: `x * Phi(x)`. GPT-2 used the tanh approximation, which is what we
# compute (PyTorch: `approximate="tanh"`):
#
# `gelu(x) = x/2 * (1 + tanh(u))`, `u = sqrt(2/pi) * (x + 0.044715 x^3)`.
#
# Since `(1 + tanh(u)) / 2 = sigmoid(2u)`, this is `x * s` with `s = sigmoid(2u)`,
# and NumPy's `exp` is several times faster than its `tanh`, so we compute
# `s = 1 / (1 + exp(-2u))`; where `exp` overflows to infinity, `s` is exactly 0,
# which is right. The derivative is
#
# `gelu'(x) = s + x * s * (1 - s) * 2 sqrt(2/pi) * (1 + 3 * 0.044715 x^2)`.
#
# Everything is done in place, block by block on both cores, and the
# constants are Python floats, so float32 stays float32.

# %%
#| export
_C = math.sqrt(2.0 / math.pi)
_K = 0.044715


def _gelu_forward(x, s, out):
    np.multiply(x, x, out=s)
    s *= _K
    s += 1.0
    s *= x
    s *= -2.0 * _C  # -2u
    with np.errstate(over="ignore"):  # exp(-2u) = inf gives s = 0, as it should
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)  # sigmoid(2u)
    np.multiply(x, s, out=out)


def _gelu_backward(x, s, g, d):
    np.multiply(x, x, out=d)
    d *= 3.0 * _K
    d += 1.0
    d *= x
    d *= 2.0 * _C  # x * d(2u)/dx
    d *= s
    d -= d * s  # times (1 - s)
    d += s
    d *= g


def gelu(x):
    X = np.ascontiguousarray(x.data).reshape(-1)  # (N,), a view when it can be
    s, out = np.empty_like(X), np.empty_like(X)
    split_rows(_gelu_forward, X, s, out)

    def backward(g):
        d = np.empty_like(X)
        split_rows(_gelu_backward, X, s, np.ascontiguousarray(g).reshape(-1), d)
        return (d.reshape(x.shape),)

    return op_result(out.reshape(x.shape), (x,), backward)


# %% [markdown]
# ## Dropout
#
# During training each activation is zeroed with probability `p`, and the
# survivors are scaled by `1 / (1 - p)` so the expected value is unchanged; at
# evaluation dropout does nothing. The random numbers come from a generator
# seeded from NumPy's global state, so `np.random.seed` (and
# `seed_everything`) makes dropout reproducible.


# %%
#| export
def dropout(x, p=0.5, training=True):
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}.")
    if not training or p == 0.0:
        return x
    rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
    mask = rng.random(x.data.shape, dtype=np.float32) >= p
    scale = mask.astype(x.data.dtype)
    scale *= 1.0 / (1.0 - p)
    out = x.data * scale

    def backward(g):
        return (g * scale,)

    return op_result(out, (x,), backward)


# %% [markdown]
# ## Linear
#
# `linear(x, W, b) = x @ W^T + b` with `W` of shape `(out, in)`, PyTorch's layout.
# Leading axes of `x` fold into one, so `(B, T, C)` inputs cost a single matrix
# product. With `x2` the folded input and `g2` the folded output gradient:
# `dx = g2 @ W`, `dW = g2^T @ x2`, `db = sum(g2, axis=0)`.


# %%
#| export
def linear(x, weight, bias=None):
    X, W = x.data, weight.data
    n_in = W.shape[1]
    if X.shape[-1] != n_in:
        raise ValueError(
            f"linear: input of shape {X.shape} has {X.shape[-1]} features, but "
            f"the weight of shape {W.shape} expects {n_in}."
        )
    X2 = X.reshape(-1, n_in)  # (N, in)
    out = X2 @ W.T  # (N, out)
    if bias is not None:
        out += bias.data
    out = out.reshape(*X.shape[:-1], W.shape[0])
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        g2 = g.reshape(-1, W.shape[0])  # (N, out)
        gx = (g2 @ W).reshape(X.shape) if x.requires_grad else None
        gw = g2.T @ X2 if weight.requires_grad else None
        if bias is None:
            return gx, gw
        return gx, gw, unbroadcast(g2, bias.shape) if bias.requires_grad else None

    return op_result(out, parents, backward)


# %% [markdown]
# ## Layer normalisation
#
# Each row (the last axes, `normalized_shape`) is shifted to mean 0 and scaled to
# variance 1, then scaled and shifted by learnt `weight` and `bias`. With
# `xhat = (x - mean) * rstd` and `gh = g * weight`, the input gradient is
#
# `dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))`,
#
# all means over the normalised axes; `dweight = sum(g * xhat)` and
# `dbias = sum(g)` over the other axes.
#
# The normalised axes are the trailing ones, so the input folds into a matrix
# of shape `(rows, D)` and every mean is over its last axis. Row-wise dot
# products such as `sum(gh * xhat)` use `np.einsum`, which reads the two arrays
# once without allocating their product. Rows are independent, so both passes
# run in blocks of rows on both cores; the weight and bias gradients are sums
# over rows, added up from each block's partial sums.


# %%
#| export
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    X = x.data
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if X.shape[X.ndim - k :] != normalized_shape:
        raise ValueError(
            f"layer_norm: input of shape {X.shape} does not end in the "
            f"normalised shape {normalized_shape}."
        )
    D = int(np.prod(normalized_shape))
    X2 = np.ascontiguousarray(X).reshape(-1, D)  # (M, D)
    w = None if weight is None else weight.data.reshape(D)
    b = None if bias is None else bias.data.reshape(D)
    xhat, out = np.empty_like(X2), np.empty_like(X2)  # (M, D)
    rstd = np.empty((X2.shape[0], 1), X2.dtype)  # (M, 1)

    def forward_rows(x, xhat, rstd, out):
        np.subtract(x, x.mean(axis=1, keepdims=True), out=xhat)
        var = np.einsum("ij,ij->i", xhat, xhat) / D  # (m,)
        rstd[:, 0] = 1.0 / np.sqrt(var + eps)
        xhat *= rstd
        if w is None:
            out[...] = xhat
        else:
            np.multiply(xhat, w, out=out)
        if b is not None:
            out += b

    split_rows(forward_rows, X2, xhat, rstd, out)
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def backward(g):
        g2 = np.ascontiguousarray(g).reshape(-1, D)  # (M, D)
        gx = np.empty_like(g2) if x.requires_grad else None

        def backward_rows(g2, xhat, rstd, gx=None):
            sums = (
                None if w is None else np.einsum("ij,ij->j", g2, xhat),  # dweight
                None if b is None else unbroadcast(g2, (g2.shape[1],)),  # dbias
            )
            if gx is not None:
                if w is None:
                    gx[...] = g2
                else:
                    np.multiply(g2, w, out=gx)
                m1 = gx.mean(axis=1, keepdims=True)  # (m, 1)
                m2 = np.einsum("ij,ij->i", gx, xhat)[:, None] / D  # (m, 1)
                gx -= m1
                gx -= xhat * m2
                gx *= rstd
            return sums

        arrays = (g2, xhat, rstd) if gx is None else (g2, xhat, rstd, gx)
        parts = split_rows(backward_rows, *arrays)
        grads = [None if gx is None else gx.reshape(X.shape)]
        for i, t in enumerate((weight, bias)):
            if t is not None:
                total = sum(p[i] for p in parts) if t.requires_grad else None
                grads.append(None if total is None else total.reshape(normalized_shape))
        return tuple(grads)

    return op_result(out.reshape(X.shape), parents, backward)


# %% [markdown]
# The losses belong to chapter 04, but PyTorch users expect
# `F.cross_entropy`; this hook finds them there on first use.


# %%
#| export
def __getattr__(name):
    if name in ("cross_entropy", "mse_loss"):
        from tinytorch.nn import losses

        return getattr(losses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# %% [markdown]
# ## Checks
#
# GELU at a few points against `x * Phi(x)` (the exact form; the tanh
# approximation is within 1e-3), and layer norm of `[1, 2, 3]`: mean 2,
# variance 2/3, so the output is `[-1.2247, 0, 1.2247]`.

# %%
xs = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
exact = xs * 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in xs]))
assert np.allclose(gelu(Tensor(xs)).data, exact, atol=1e-3)

y = layer_norm(Tensor([[1.0, 2.0, 3.0]]), 3)
assert np.allclose(y.data, [[-1.2247449, 0.0, 1.2247449]], atol=1e-4)

# %% [markdown]
# Dropout keeps the mean: with `p = 0.25`, about a quarter of a large tensor is
# zero and the mean stays near 1.

# %%
np.random.seed(0)
d = dropout(Tensor(np.ones(100_000)), p=0.25).data
assert abs((d == 0).mean() - 0.25) < 0.01
assert abs(d.mean() - 1.0) < 0.02

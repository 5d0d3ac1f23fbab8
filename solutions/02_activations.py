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

import numpy as np
from tinytorch.tensor import Tensor, op_result


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
# Everything is done in place on two arrays, and the constants are Python
# floats, so float32 stays float32.

# %%
#| export
_C = math.sqrt(2.0 / math.pi)
_K = 0.044715


def gelu(x):
    X = x.data
    s = X * X
    s *= _K
    s += 1.0
    s *= X
    s *= -2.0 * _C  # -2u
    with np.errstate(over="ignore"):  # exp(-2u) = inf gives s = 0, as it should
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)  # sigmoid(2u)
    out = X * s

    def backward(g):
        d = X * X
        d *= 3.0 * _K
        d += 1.0
        d *= X
        d *= 2.0 * _C  # x * d(2u)/dx
        d *= s
        d *= 1.0 - s
        d += s
        d *= g
        return (d,)

    return op_result(out, (x,), backward)


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
        return gx, gw, g2.sum(axis=0) if bias.requires_grad else None

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
# once without allocating their product.


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
    X2 = X.reshape(-1, D)  # (M, D)
    xhat = X2 - X2.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", xhat, xhat) / D  # (M,)
    rstd = (1.0 / np.sqrt(var + eps)).astype(X.dtype, copy=False)[:, None]  # (M, 1)
    xhat *= rstd
    w = None if weight is None else weight.data.reshape(D)
    if w is None:
        out = xhat if bias is None else xhat + bias.data.reshape(D)
    else:
        out = xhat * w
        if bias is not None:
            out += bias.data.reshape(D)
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def backward(g):
        g2 = g.reshape(-1, D)  # (M, D)
        grads = [None]
        if x.requires_grad:
            gx = g2 * w if w is not None else g2.copy()
            m1 = gx.mean(axis=1, keepdims=True)
            m2 = np.einsum("ij,ij->i", gx, xhat)[:, None] / D
            gx -= m1
            gx -= xhat * m2
            gx *= rstd
            grads[0] = gx.reshape(X.shape)
        if weight is not None:
            gw = None
            if weight.requires_grad:
                gw = np.einsum("ij,ij->j", g2, xhat).reshape(normalized_shape)
            grads.append(gw)
        if bias is not None:
            gb = (
                g2.sum(axis=0).reshape(normalized_shape) if bias.requires_grad else None
            )
            grads.append(gb)
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

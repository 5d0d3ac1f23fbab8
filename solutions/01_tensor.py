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
# # 01 · Tensor and its autograd engine
#
# A `Tensor` is a NumPy array that remembers where it came from. Every operation
# on tensors computes its result with NumPy and, when gradients are wanted, also
# records a small *backward* function: given the gradient of the loss with respect
# to the result, it returns the gradients with respect to the inputs. Calling
# `loss.backward()` walks these records from the loss back to the leaves
# (the parameters) and leaves each leaf's gradient in `.grad`.
#
# This chapter is the whole engine. It follows three rules:
#
# - **float32 everywhere.** Floating data is stored as float32 unless you ask for
#   another dtype. Python scalars mix in without changing the dtype; NumPy arrays
#   of another float dtype are cast to the tensor's dtype.
# - **One node per op, one closure per node.** An op computes its output, then
#   defines `backward(g)`, then returns `op_result(out, parents, backward)`.
# - **No recursion.** `backward()` sorts the graph with an explicit stack, so a
#   graph of 100,000 nodes is as fine as one of ten.

# %%
#| default_exp tensor

# %% [markdown]
# ## Grad mode
#
# During evaluation nobody needs gradients, and recording them costs time and
# memory. `with no_grad():` switches recording off; the flag is a module global so
# that checking it costs almost nothing.

# %%
#| export
"""Tensor: NumPy arrays with reverse-mode automatic differentiation.

Every op computes its result with NumPy and records a closure that maps the
gradient of the result to the gradients of its inputs. `Tensor.backward()`
visits the recorded graph in reverse topological order, without recursion.
Custom ops with a hand-written backward use `op_result` (or, PyTorch-style,
`tinytorch.autograd.Function`).
"""

import functools
import sys

import numpy as np

_grad_enabled = True


def is_grad_enabled():
    """True unless inside a `no_grad()` block."""
    return _grad_enabled


class no_grad:
    """Context manager (and decorator) that stops ops from recording a graph."""

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


# %% [markdown]
# ## Recording an op
#
# `op_result(data, parents, backward)` is the one door through which every op
# (and every custom op of later chapters) enters the graph. It wraps `data` in a
# new tensor. If grad mode is on and some parent requires a gradient, the tensor
# keeps its parents and the closure; otherwise it is a plain constant and the
# closure is dropped at once.
#
# The closure receives `g`, the gradient with respect to `data` (same shape), and
# returns one gradient per parent, or `None` for a parent that needs none. It may
# look at `parent.requires_grad` to skip work nobody will use; that matters for
# `x @ W` where `x` is a batch of images.
#
# Broadcasting makes an input smaller than the output: `b` of shape `(C,)` added
# to `x` of shape `(N, C)` is used `N` times, so its gradient is the sum over the
# `N` rows. `unbroadcast` does that sum, and does nothing at all in the common
# case where the shapes already agree. A sum over leading axes is a product
# with a vector of ones, `ones(N) @ g`, which BLAS does several times faster
# than NumPy's sum down a tall, narrow array, and more accurately (measured on
# the first convolution's bias gradient, 131,072 x 24: 3.1 ms -> 0.4 ms).


# %%
#| export
def op_result(data, parents, backward):
    """Wrap an op's output; remember `parents` and `backward` if grads are needed.

    `backward(g)` gets the gradient w.r.t. `data` and returns a tuple with one
    gradient (an array shaped like that parent, or None) per parent.
    """
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    if _grad_enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


def unbroadcast(g, shape):
    """Sum `g` down to `shape`, undoing NumPy broadcasting."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = _sum_leading(g, extra)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def _sum_leading(g, n):
    """g summed over its first n axes."""
    rest = g.shape[n:]
    if g.dtype not in (np.float32, np.float64) or not g.flags.c_contiguous:
        return g.sum(axis=tuple(range(n)))
    rows = g.reshape(-1, int(np.prod(rest)))  # (N, K), a view
    return (np.ones(len(rows), g.dtype) @ rows).reshape(rest)


def _const(x, like):
    """A non-tensor operand: Python scalars stay as they are (they do not change
    the dtype); arrays of another float dtype are cast to the tensor's dtype."""
    if type(x) is float or type(x) is int:  # not np.float64, a float subclass
        return x
    x = np.asarray(x)
    if x.dtype.kind == "f" and like.dtype.kind == "f" and x.dtype != like.dtype:
        x = x.astype(like.dtype)
    return x


def _broadcast(ufunc, a, b, symbol):
    try:
        return ufunc(a, b)
    except ValueError:
        sa, sb = np.shape(a), np.shape(b)
        raise ValueError(
            f"{symbol}: shapes {sa} and {sb} do not broadcast. Trailing dimensions "
            "must be equal or 1; reshape one operand."
        ) from None


# %% [markdown]
# ## Arithmetic
#
# Each op has the same rhythm: compute the output, define the backward, return.
# The gradients are the ones from a calculus course: for `a * b` the gradient
# with respect to `a` is `g * b`; for `a / b` it is `g / b` for `a` and
# `-g * a / b**2 = -g * out / b` for `b`.


# %%
#| export
def add(a, b):
    A = a.data
    if isinstance(b, Tensor):
        B = b.data
        out = _broadcast(np.add, A, B, "+")

        def backward(g):
            ga = unbroadcast(g, A.shape) if a.requires_grad else None
            gb = unbroadcast(g, B.shape) if b.requires_grad else None
            return ga, gb

        return op_result(out, (a, b), backward)
    out = _broadcast(np.add, A, _const(b, A), "+")

    def backward(g):
        return (unbroadcast(g, A.shape),)

    return op_result(out, (a,), backward)


def sub(a, b):
    A = a.data
    if isinstance(b, Tensor):
        B = b.data
        out = _broadcast(np.subtract, A, B, "-")

        def backward(g):
            ga = unbroadcast(g, A.shape) if a.requires_grad else None
            gb = -unbroadcast(g, B.shape) if b.requires_grad else None
            return ga, gb

        return op_result(out, (a, b), backward)
    out = _broadcast(np.subtract, A, _const(b, A), "-")

    def backward(g):
        return (unbroadcast(g, A.shape),)

    return op_result(out, (a,), backward)


def rsub(a, b):
    """b - a for a non-tensor b."""
    A = a.data
    out = _broadcast(np.subtract, _const(b, A), A, "-")

    def backward(g):
        return (-unbroadcast(g, A.shape),)

    return op_result(out, (a,), backward)


def mul(a, b):
    A = a.data
    if isinstance(b, Tensor):
        B = b.data
        out = _broadcast(np.multiply, A, B, "*")

        def backward(g):
            ga = unbroadcast(g * B, A.shape) if a.requires_grad else None
            gb = unbroadcast(g * A, B.shape) if b.requires_grad else None
            return ga, gb

        return op_result(out, (a, b), backward)
    B = _const(b, A)
    out = _broadcast(np.multiply, A, B, "*")

    def backward(g):
        return (unbroadcast(g * B, A.shape),)

    return op_result(out, (a,), backward)


def div(a, b):
    A = a.data
    if isinstance(b, Tensor):
        B = b.data
        out = _broadcast(np.true_divide, A, B, "/")

        def backward(g):
            ga = unbroadcast(g / B, A.shape) if a.requires_grad else None
            gb = unbroadcast(-g * out / B, B.shape) if b.requires_grad else None
            return ga, gb

        return op_result(out, (a, b), backward)
    B = _const(b, A)
    out = _broadcast(np.true_divide, A, B, "/")

    def backward(g):
        return (unbroadcast(g / B, A.shape),)

    return op_result(out, (a,), backward)


def rdiv(a, b):
    """b / a for a non-tensor b."""
    A = a.data
    out = _broadcast(np.true_divide, _const(b, A), A, "/")

    def backward(g):
        return (unbroadcast(-g * out / A, A.shape),)

    return op_result(out, (a,), backward)


def neg(a):
    def backward(g):
        return (-g,)

    return op_result(-a.data, (a,), backward)


def power(a, p):
    """a ** p for a tensor a and a scalar or tensor exponent p."""
    A = a.data
    if isinstance(p, Tensor):
        P = p.data
        out = _broadcast(np.power, A, P, "**")

        def backward(g):
            ga = gp = None
            if a.requires_grad:
                ga = unbroadcast(g * P * A ** (P - 1), A.shape)
            if p.requires_grad:
                gp = unbroadcast(g * out * np.log(A), P.shape)
            return ga, gp

        return op_result(out, (a, p), backward)
    P = _const(p, A)
    out = A * A if p == 2 else _broadcast(np.power, A, P, "**")

    def backward(g):
        if p == 2:
            return (g * (A + A),)
        return (unbroadcast(g * P * A ** (P - 1), A.shape),)

    return op_result(out, (a,), backward)


def rpow(a, base):
    """base ** a for a non-tensor base."""
    A = a.data
    B = _const(base, A)
    out = _broadcast(np.power, B, A, "**")

    def backward(g):
        return (unbroadcast(g * out * np.log(B), A.shape),)

    return op_result(out, (a,), backward)


# %% [markdown]
# ## Matrix multiplication
#
# `A @ B` follows NumPy: the last axis of `A` meets the second-to-last of `B`,
# leading axes broadcast, a 1-D operand is a vector. With `out = A @ B`:
#
# - `dA = g @ B^T`, `dB = A^T @ g`, then unbroadcast over batch axes.
#
# The common case in a network is `(..., K) @ (K, N)`: activations times a weight.
# There the batch axes fold into one, so both the forward and `dB` are a single
# large matrix product instead of one small product per batch element.


# %%
#| export
def _matmul_error(A, B):
    if A.ndim == 0 or B.ndim == 0:
        return ValueError(
            f"@: shapes {A.shape} and {B.shape}: matmul needs at least 1-D "
            "operands. Use * to scale by a number."
        )
    k_left, k_right = A.shape[-1], B.shape[-2] if B.ndim > 1 else B.shape[0]
    if k_left != k_right:
        return ValueError(
            f"@: shapes {A.shape} and {B.shape} do not line up: the left operand "
            f"has {k_left} columns, the right one {k_right} rows. Check the layer "
            "sizes, or transpose an operand."
        )
    return ValueError(
        f"@: shapes {A.shape} and {B.shape}: batch dimensions "
        f"{A.shape[:-2]} and {B.shape[:-2]} do not broadcast."
    )


def matmul(a, b):
    if not isinstance(b, Tensor):
        b = Tensor(_const(b, a.data))
    A, B = a.data, b.data
    folded = A.ndim > 2 and B.ndim == 2 and A.flags.c_contiguous
    try:
        if folded and A.shape[-1] == B.shape[0]:
            out = (A.reshape(-1, A.shape[-1]) @ B).reshape(*A.shape[:-1], B.shape[1])
        else:
            out = A @ B
    except ValueError:
        raise _matmul_error(A, B) from None

    def backward(g):
        ga = gb = None
        if B.ndim == 2 and A.ndim >= 2:  # (..., K) @ (K, N)
            K, N = B.shape
            if a.requires_grad:
                if A.ndim == 2:
                    ga = g @ B.T  # (M, K)
                else:
                    ga = (g.reshape(-1, N) @ B.T).reshape(A.shape)
            if b.requires_grad:
                gb = A.reshape(-1, K).T @ g.reshape(-1, N)  # (K, N)
            return ga, gb
        if A.ndim == 1 and B.ndim == 1:  # a dot product
            return (
                g * B if a.requires_grad else None,
                g * A if b.requires_grad else None,
            )
        A2 = A[None, :] if A.ndim == 1 else A
        B2 = B[:, None] if B.ndim == 1 else B
        g2 = g
        if A.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if B.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if a.requires_grad:
            ga = unbroadcast(g2 @ np.swapaxes(B2, -1, -2), A2.shape).reshape(A.shape)
        if b.requires_grad:
            gb = unbroadcast(np.swapaxes(A2, -1, -2) @ g2, B2.shape).reshape(B.shape)
        return ga, gb

    return op_result(out, (a, b), backward)


# %% [markdown]
# ## Reductions
#
# `sum` copies the incoming gradient to every element that was summed:
# `np.broadcast_to` does it without allocating. `mean` is a sum divided by the
# count. `max` sends the gradient to the elements that were the maximum, split
# evenly if several tie.


# %%
#| export
def _expand(g, axis, keepdims):
    """Put back the axes a reduction removed, so `g` broadcasts to the input."""
    if axis is None or keepdims:
        return g
    return np.expand_dims(g, axis)


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[i] for i in axes]))


def reduce_sum(a, axis=None, keepdims=False):
    A = a.data
    out = A.sum(axis=axis, keepdims=keepdims)

    def backward(g):
        return (np.broadcast_to(_expand(g, axis, keepdims), A.shape),)

    return op_result(np.asarray(out), (a,), backward)


def reduce_mean(a, axis=None, keepdims=False):
    A = a.data
    out = A.mean(axis=axis, keepdims=keepdims)
    n = _count(A.shape, axis)

    def backward(g):
        return (np.broadcast_to(_expand(g, axis, keepdims) / n, A.shape),)

    return op_result(np.asarray(out, dtype=A.dtype), (a,), backward)


def reduce_max(a, axis=None, keepdims=False):
    A = a.data
    top = A.max(axis=axis, keepdims=True)
    out = top if keepdims else np.squeeze(top, axis)

    def backward(g):
        share = (A == top).astype(A.dtype)
        share /= share.sum(axis=axis, keepdims=True)
        return (_expand(g, axis, keepdims) * share,)

    return op_result(np.asarray(out), (a,), backward)


# %% [markdown]
# ## Elementwise functions
#
# The derivative of each is written in terms of its output where that is
# cheaper: `exp' = exp`, `tanh' = 1 - tanh^2`, `sigmoid' = s (1 - s)`.
# `sigmoid` is computed as `(1 + tanh(x / 2)) / 2`, which never overflows.


# %%
#| export
def exp(a):
    out = np.exp(a.data)

    def backward(g):
        return (g * out,)

    return op_result(out, (a,), backward)


def log(a):
    A = a.data
    out = np.log(A)

    def backward(g):
        return (g / A,)

    return op_result(out, (a,), backward)


def sqrt(a):
    out = np.sqrt(a.data)

    def backward(g):
        return (g / (out + out),)

    return op_result(out, (a,), backward)


def tanh(a):
    out = np.tanh(a.data)

    def backward(g):
        return (g * (1 - out * out),)

    return op_result(out, (a,), backward)


def sigmoid(a):
    out = np.tanh(a.data * 0.5)
    out *= 0.5
    out += 0.5

    def backward(g):
        return (g * out * (1 - out),)

    return op_result(out, (a,), backward)


def relu(a):
    out = np.maximum(a.data, 0)

    def backward(g):
        return (g * (out > 0),)

    return op_result(out, (a,), backward)


# %% [markdown]
# ## Softmax without overflow
#
# `exp(1000)` is infinite in float32, yet the softmax of `[1000, 1001]` is a
# harmless `[0.2689, 0.7311]`. Softmax does not change when the same number is
# subtracted from every input, so we subtract the maximum first: the largest
# exponent is then `exp(0) = 1`. For `log_softmax` the same shift gives
# `x - max - log(sum(exp(x - max)))`, exact and finite.
#
# Backward, with `y = softmax(x)`: `dx = y * (g - sum(g * y))`; and for
# `log_softmax`: `dx = g - softmax(x) * sum(g)`.


# %%
#| export
def _rowdot(u, v, axis):
    """sum(u * v, axis, keepdims=True) without allocating u * v (last axis)."""
    if axis == -1 or axis == u.ndim - 1:
        return np.einsum("...i,...i->...", u, v)[..., None]
    return (u * v).sum(axis=axis, keepdims=True)


def softmax(a, axis=-1):
    X = a.data
    y = X - X.max(axis=axis, keepdims=True)
    np.exp(y, out=y)
    y *= 1.0 / y.sum(axis=axis, keepdims=True)

    def backward(g):
        gx = g - _rowdot(g, y, axis)
        gx *= y
        return (gx,)

    return op_result(y, (a,), backward)


def log_softmax(a, axis=-1):
    X = a.data
    out = X - X.max(axis=axis, keepdims=True)
    probs = np.exp(out)
    total = probs.sum(axis=axis, keepdims=True)
    out -= np.log(total)
    probs *= 1.0 / total  # kept: the backward needs softmax(x)

    def backward(g):
        return (g - probs * g.sum(axis=axis, keepdims=True),)

    return op_result(out, (a,), backward)


# %% [markdown]
# ## Shapes
#
# `reshape`, `transpose` and `permute` move no numbers, so their backward only
# moves the gradient back into the input's shape. Their outputs are NumPy views.


# %%
#| export
def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def reshape(a, *shape):
    A = a.data
    shape = _shape_args(shape)
    try:
        out = A.reshape(shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot view shape {A.shape} ({A.size} elements) as {shape}. "
            "The number of elements must stay the same."
        ) from None

    def backward(g):
        return (g.reshape(A.shape),)

    return op_result(out, (a,), backward)


def transpose(a, dim0=-2, dim1=-1):
    out = np.swapaxes(a.data, dim0, dim1)

    def backward(g):
        return (np.swapaxes(g, dim0, dim1),)

    return op_result(out, (a,), backward)


def permute(a, *axes):
    axes = _shape_args(axes)
    ndim = a.data.ndim
    if sorted(ax % ndim for ax in axes) != list(range(ndim)) or len(axes) != ndim:
        raise ValueError(
            f"permute: axes {axes} are not a permutation of the {a.ndim} axes "
            f"of a tensor of shape {a.shape}."
        )
    out = np.transpose(a.data, axes)
    inverse = tuple(int(i) for i in np.argsort([ax % ndim for ax in axes]))

    def backward(g):
        return (np.transpose(g, inverse),)

    return op_result(out, (a,), backward)


# %% [markdown]
# ## Indexing
#
# `x[idx]` accepts everything NumPy accepts. The gradient goes back to the
# positions that were read. With basic indexing (integers and slices) each
# position is read at most once, so the gradient is simply written there. With
# an integer array an index may repeat (`x[[0, 0, 1]]`), and each use must add
# its gradient. For the frequent case of picking rows, such as an embedding
# lookup, the sum is vectorised: sort the indices, add up each run of equal
# indices with `np.add.reduceat`, and write one sum per row.


# %%
#| export
def _is_basic(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(
        isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
        for p in parts
    )


def _scatter_rows(shape, dtype, idx, g):
    """Sum of `g` rows into a zero array of `shape`, row idx[i] for each i."""
    n = shape[0]
    rows = idx.ravel()
    if rows.size and rows.min() < 0:
        rows = rows % n
    flat = g.reshape(rows.size, -1)
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    full = np.zeros((n, flat.shape[1]), dtype=dtype)
    if rows.size:
        full[rows[starts]] = np.add.reduceat(flat[order], starts, axis=0)
    return full.reshape(shape)


def getitem(a, idx):
    if isinstance(idx, Tensor):
        idx = idx.data
    elif isinstance(idx, tuple):
        idx = tuple(i.data if isinstance(i, Tensor) else i for i in idx)
    elif isinstance(idx, list):
        idx = np.asarray(idx)
    A = a.data
    out = A[idx]

    def backward(g):
        if isinstance(idx, np.ndarray) and idx.dtype.kind in "iu":
            return (_scatter_rows(A.shape, A.dtype, idx, g),)
        full = np.zeros(A.shape, dtype=A.dtype)
        if _is_basic(idx) or isinstance(idx, np.ndarray) and idx.dtype == bool:
            full[idx] = g
        else:
            np.add.at(full, idx, g)
        return (full,)

    return op_result(np.asarray(out), (a,), backward)


# %% [markdown]
# ## Joining, selecting, padding
#
# `concatenate` and `stack` hand each input its own slice of the gradient.
# `where(cond, a, b)` takes each element from `a` or `b`; the gradient follows the
# same choice. `masked_fill(mask, value)` is a `where` with a constant, the usual
# way to put `-inf` above the diagonal of an attention score matrix. `pad` adds a
# constant border; its backward cuts the border off again.


# %%
#| export
def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError:
        shapes = [t.shape for t in tensors]
        raise ValueError(
            f"concatenate: shapes {shapes} differ outside axis {axis}."
        ) from None
    cuts = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(np.split(g, cuts, axis=axis))

    return op_result(out, tuple(tensors), backward)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {sorted(shapes)}.")
    out = np.stack([t.data for t in tensors], axis=axis)

    def backward(g):
        return tuple(np.moveaxis(g, axis, 0))

    return op_result(out, tuple(tensors), backward)


def where(cond, a, b):
    """Elementwise `a` where `cond` is true, else `b`; a and b may be numbers."""
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    cond = cond.astype(bool, copy=False)
    like = (
        a.data if isinstance(a, Tensor) else b.data if isinstance(b, Tensor) else None
    )
    A = a.data if isinstance(a, Tensor) else _const(a, like) if like is not None else a
    B = b.data if isinstance(b, Tensor) else _const(b, like) if like is not None else b
    try:
        out = np.where(cond, A, B)
    except ValueError:
        raise ValueError(
            f"where: shapes {cond.shape}, {np.shape(A)} and {np.shape(B)} "
            "do not broadcast."
        ) from None
    parents = tuple(t for t in (a, b) if isinstance(t, Tensor))

    def backward(g):
        grads = []
        if isinstance(a, Tensor):
            grads.append(unbroadcast(np.where(cond, g, 0), np.shape(A)))
        if isinstance(b, Tensor):
            grads.append(unbroadcast(np.where(cond, 0, g), np.shape(B)))
        return tuple(grads)

    return op_result(out, parents, backward)


def masked_fill(a, mask, value):
    """`a` with `value` wherever `mask` is true."""
    mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    A = a.data
    try:
        out = np.where(mask, _const(value, A), A)
    except ValueError:
        raise ValueError(
            f"masked_fill: mask of shape {mask.shape} does not broadcast to "
            f"the tensor's shape {A.shape}."
        ) from None

    def backward(g):
        return (unbroadcast(np.where(mask, 0, g), A.shape),)

    return op_result(out, (a,), backward)


def pad(a, pad_width, value=0.0):
    """Constant padding; `pad_width` as in `np.pad`: an int, a (before, after)
    pair for every axis, or one pair per axis."""
    A = a.data
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (A.ndim, 2))
    shape = tuple(int(n + lo + hi) for n, (lo, hi) in zip(A.shape, widths, strict=True))
    inner = tuple(
        slice(int(lo), int(lo) + n) for n, (lo, _) in zip(A.shape, widths, strict=True)
    )
    out = np.full(shape, value, dtype=A.dtype)
    out[inner] = A

    def backward(g):
        return (g[inner],)

    return op_result(out, (a,), backward)


# %% [markdown]
# ## Backward: walking the graph
#
# `loss.backward()` needs every node after all the nodes that use it, a
# topological order. A recursive depth-first search would be the shortest code,
# but a deep network (or a long chain of small ops) would reach Python's
# recursion limit; so the search keeps its own stack. Each stack entry is a node
# and a flag saying whether its parents are already done.
#
# Gradients are gathered in a dictionary keyed by node. When a node is reached
# from two places (`y = x*x + x*x` uses `x` four times), the contributions are
# added. An array the dictionary created itself may be added to in place; an
# array that came from a backward closure is never modified, because the closure
# may have handed the same array to another parent.
#
# When a leaf (a tensor made by the user, such as a parameter) receives its
# gradient it is stored in `.grad`, added to any gradient already there. The
# stored array is changed in place later (the next accumulation, gradient
# clipping), so it must be the leaf's alone: the gradient passed to
# `backward()` and an array another leaf already holds are copied first, and
# so is a view, unless nothing but that view refers to the array beneath it
# (a backward's fresh array handed back transposed; copying it would cost as
# much as the backward itself). The walk itself never writes into the
# gradient it was given, so that one is not copied up front. After
# the walk each node drops its closure, so the arrays the closures held can be
# freed; `retain_graph=True` keeps them for a second backward.


# %%
#| export
def _graph_freed(g):
    raise RuntimeError(
        "backward() went through this graph a second time, but the first pass "
        "freed it. Pass retain_graph=True to the first backward()."
    )


def _topological_order(root):
    """Nodes that need a gradient, each after all of its parents."""
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in node._parents:
            if p.requires_grad and id(p) not in seen:
                stack.append((p, False))
    return order


def _run_backward(root, seed, retain_graph):
    grads = {id(root): seed}
    owned = set()  # arrays the walk allocated itself: safe to add to in place
    given = {id(seed)}  # arrays a leaf must copy: the caller's, or another leaf's
    for node in reversed(_topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        fn = node._backward
        if fn is None:
            _store_leaf_grad(node, g, given)
            continue
        parents = node._parents
        parent_grads = fn(g)
        if not retain_graph:
            node._backward = _graph_freed
            node._parents = ()
        for p, pg in zip(parents, parent_grads, strict=True):
            if pg is None or not p.requires_grad:
                continue
            k = id(p)
            current = grads.get(k)
            if current is None:
                grads[k] = pg
            elif k in owned:
                np.add(current, pg, out=current)
            else:
                grads[k] = current + pg
                owned.add(k)


def _sole_view(g):
    """Whether g is a writeable view of an array nothing else refers to.

    Such a view (a transpose or slice a backward made of its own fresh array)
    may be kept as it is: no other array can see its memory change.
    """
    return (
        isinstance(g.base, np.ndarray)
        and g.base.base is None
        and g.flags.writeable
        and sys.getrefcount(g.base) <= 2  # g's reference, and the call's own
    )


def _store_leaf_grad(leaf, g, given):
    dtype = leaf.data.dtype
    if leaf.grad is not None:
        np.add(leaf.grad, g, out=leaf.grad)
        return
    shared = id(g) in given or (g.base is not None and not _sole_view(g))
    if shared or g.dtype != dtype:
        g = np.array(g, dtype=dtype)  # own copy: safe to change in place
    if g.shape != leaf.data.shape:
        raise RuntimeError(
            f"backward: a gradient of shape {g.shape} reached a tensor of shape "
            f"{leaf.data.shape}; a custom op returned a wrong-shaped gradient."
        )
    given.add(id(g))
    leaf.grad = g


# %% [markdown]
# ## The Tensor class
#
# The class itself is thin: construction, a few properties, and operators that
# call the functions above. `__slots__` keeps each tensor small and attribute
# access fast; `__array_ufunc__ = None` tells NumPy to leave `array + tensor` to
# the tensor, so the result is a tensor with a gradient, not an array.


# %%
#| export
class Tensor:
    """An n-dimensional array with an optional gradient.

    Floating data is stored as float32 unless `dtype` says otherwise; integer
    and boolean data keep their dtype (labels, indices, masks).
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward")
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        data = np.asarray(data, dtype=dtype)
        if dtype is None and data.dtype.kind == "f" and data.dtype != np.float32:
            data = data.astype(np.float32)
        if requires_grad and data.dtype.kind not in "fc":
            raise TypeError(
                f"Only floating tensors can require gradients; this one is "
                f"{data.dtype} of shape {data.shape}. Convert it with a float dtype."
            )
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None

    # -- what it is ----------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def T(self):
        return permute(self, *range(self.data.ndim - 1, -1, -1))

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}{grad})"

    def numpy(self):
        return self.data

    def __array__(self, dtype=None, copy=None):
        """`np.asarray(tensor)` gives the data (no gradient)."""
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self):
        return self.data.item()

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor.__new__(Tensor)._init_plain(self.data)

    def _init_plain(self, data):
        self.data = data
        self.grad = None
        self.requires_grad = False
        self._parents = ()
        self._backward = None
        return self

    # -- gradients -----------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad. Create the "
                "inputs with requires_grad=True (parameters already are)."
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient works only for one number, but "
                    f"this tensor has shape {self.data.shape}. Reduce it (.sum(), "
                    ".mean()) first, or pass grad= of the same shape."
                )
            seed = np.ones_like(self.data)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            seed = seed.astype(self.data.dtype, copy=False)  # never written to
            if seed.shape != self.data.shape:
                raise ValueError(
                    f"backward(grad=...): grad has shape {seed.shape} but the "
                    f"tensor has shape {self.data.shape}."
                )
        _run_backward(self, seed, retain_graph)

    # -- arithmetic ----------------------------------------------------------
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(self, other)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return rsub(self, other)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(self, other)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return rdiv(self, other)

    def __neg__(self):
        return neg(self)

    def __pow__(self, p):
        return power(self, p)

    def __rpow__(self, base):
        return rpow(self, base)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(Tensor(_const(other, self.data)), self)

    def __getitem__(self, idx):
        return getitem(self, idx)

    # -- comparisons give boolean tensors without gradients -----------------
    __hash__ = object.__hash__

    def _compare(self, other, ufunc):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(ufunc(self.data, other))

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    # -- methods -------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return reduce_sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return reduce_mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return reduce_max(self, axis, keepdims)

    def argmax(self, axis=None):
        return Tensor(np.argmax(self.data, axis=axis))

    def reshape(self, *shape):
        return reshape(self, *shape)

    def transpose(self, dim0=-2, dim1=-1):
        return transpose(self, dim0, dim1)

    def permute(self, *axes):
        return permute(self, *axes)

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    def sqrt(self):
        return sqrt(self)

    def tanh(self):
        return tanh(self)

    def sigmoid(self):
        return sigmoid(self)

    def relu(self):
        return relu(self)

    def softmax(self, axis=-1):
        return softmax(self, axis)

    def log_softmax(self, axis=-1):
        return log_softmax(self, axis)

    def masked_fill(self, mask, value):
        return masked_fill(self, mask, value)

    def pad(self, pad_width, value=0.0):
        return pad(self, pad_width, value)


# %% [markdown]
# ## Checks
#
# A few values worked by hand. For `y = x*x + x*x` at `x = 3` the derivative is
# `4x = 12`; the graph reaches `x` four times and the walk must add all four.

# %%
x = Tensor([3.0], requires_grad=True)
y = x * x + x * x
y.backward()
assert x.grad.tolist() == [12.0]
assert x.grad.dtype == np.float32

p = Tensor([1000.0, 1001.0]).softmax()
assert np.allclose(p.data, [0.2689414, 0.7310586])
assert np.isfinite(Tensor([-1000.0, 0.0]).log_softmax().data).all()

# %% [markdown]
# Broadcasting: `b` of shape `(3,)` is added to each of two rows, so each of its
# entries receives the sum of two ones.

# %%
b = Tensor(np.zeros(3), requires_grad=True)
(Tensor(np.ones((2, 3))) + b).sum().backward()
assert b.grad.tolist() == [2.0, 2.0, 2.0]

w = Tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
w[np.array([0, 0, 1])].sum().backward()  # row 0 read twice
assert w.grad.tolist() == [[2.0, 2.0], [1.0, 1.0]]

# %% [markdown]
# ## Your own op with a hand-written backward
#
# Later chapters (convolution, attention) write ops whose backward is faster by
# hand than as a chain of small ops. Any function can do it with `op_result`:
# compute the output from `.data`, write the closure, return. Here is
# `x ** 3` as one op; `tinytorch.autograd.Function` (chapter 05) wraps the same
# door in PyTorch's `forward(ctx, ...)`/`backward(ctx, grad)` style.


# %%
def cube(x):
    X = x.data
    out = X * X * X

    def backward(g):
        return (3 * g * X * X,)

    return op_result(out, (x,), backward)


x = Tensor([2.0], requires_grad=True)
cube(x).backward()
assert x.grad.tolist() == [12.0]

# %% [markdown]
# ## Deep graphs
#
# Two thousand chained additions would overflow a recursive walk; this one keeps
# its own stack.

# %%
x = Tensor([1.0], requires_grad=True)
y = x
for _ in range(2000):
    y = y + x
y.backward()
assert x.grad.tolist() == [2001.0]

# %% [markdown]
# ## Systems: what the bookkeeping costs
#
# On a tiny tensor an op is mostly Python: creating the output tensor, the
# closure, the checks. On a large one it is NumPy's arithmetic, and the
# bookkeeping disappears. The cell measures both on this machine.

# %%
import time


def seconds_per_call(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


for side, calls in [(4, 2000), (1000, 10)]:
    t = Tensor(np.ones((side, side)), requires_grad=True)
    raw = seconds_per_call(lambda: t.data * t.data, calls)  # noqa: B023
    ours = seconds_per_call(lambda: t * t, calls)  # noqa: B023
    print(
        f"{side}x{side}: NumPy {raw * 1e6:8.1f} us, Tensor {ours * 1e6:8.1f} us "
        f"({ours / raw:.1f}x)"
    )

# %% [markdown]
# After `backward()` each node drops its closure, and with it the arrays the
# closure kept for the backward pass; holding on to a loss tensor therefore does
# not hold on to the activations of the whole network.

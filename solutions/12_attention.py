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
# # Module 12: Attention
#
# An embedding gives every token a vector of its own, blind to its neighbours.
# Attention is how a token looks at the others: each position asks a question
# (a *query*), every position offers a description of itself (a *key*) and a
# payload (a *value*), and each position receives a weighted average of the
# values, weighted by how well its query matches each key.
#
# For one sequence of `T` positions with head width `hs`:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{hs}}
# \;\text{masked}\right) V$$
#
# where $Q$ is `(T, hs)`, $K$ is `(S, hs)`, $V$ is `(S, hv)`, the scores
# $QK^\top$ are `(T, S)`, and the softmax runs along each row.
#
# This module builds, in order:
#
# 1. `causal_mask`: which keys each query may look at;
# 2. attention one query at a time, with loops, to see every step;
# 3. the batched matrix version, and a masked softmax that is safe at any
#    magnitude;
# 4. the same attention from `Tensor` operations, so autograd derives its
#    backward for us;
# 5. attention as **one** `Function` with a hand-written backward, checked
#    against (4) and against finite differences: the fast path the GPT uses;
# 6. `MultiHeadAttention`: several heads side by side, with one fused
#    projection for queries, keys and values.
#
# It ends with a systems section: attention's memory grows with `T²`.

# %%
#| default_exp nn.attention

# %% [markdown]
# ## 1. Masks: one convention
#
# A mask is a boolean array, **True where a query may attend to a key**. The
# same convention holds for every function in the package that takes a mask.
# A mask of shape `(T, S)` applies to every batch and head; anything that
# broadcasts to `(..., T, S)` is accepted.
#
# A language model predicts token `t + 1` from tokens `0..t`, so position `t`
# must not see any later position. That is the *causal* mask: lower triangular,
# diagonal included.
#
# **Exercise.** Write `causal_mask(T, S=None)`: a `(T, S)` boolean array (with
# `S = T` by default), True where key `j <= i` for query `i`. The result is
# cached and read-only, so that a model can ask for it on every call for free.

# %%
#| export
"""Attention: masks, scaled dot-product attention and multi-head attention.

One mask convention everywhere: a boolean array, True where a query may attend
to a key. Masked scores become -inf before the softmax, so no score leaks
through however large it is; a query with nothing allowed gets zero weights
and a zero output, never NaN.
"""

import functools
import math

import numpy as np
from tinytorch.autograd import Function
from tinytorch.nn.modules import Dropout, Linear, Module
from tinytorch.tensor import Tensor


@functools.lru_cache(maxsize=32)
def causal_mask(T: int, S: int | None = None) -> np.ndarray:
    """(T, S) boolean mask, True where query i may attend to key j <= i."""
    S = T if S is None else S
    # build `mask`: (T, S) booleans
    ### BEGIN SOLUTION
    mask = np.tri(T, S, dtype=bool)  # (T, S)
    ### END SOLUTION
    mask.flags.writeable = False
    return mask


# %%
m = causal_mask(4)
assert m.dtype == bool and m.shape == (4, 4)
assert m[2, 2] and m[2, 0] and not m[2, 3] and not m[0, 1]
assert causal_mask(4) is m  # cached: asking again costs nothing
print(m.astype(int))

# %% [markdown]
# ## 2. Attention one query at a time
#
# Before any matrix trick, here is attention exactly as the formula reads. For
# each query `i`: score it against every allowed key, turn the scores into
# weights with a softmax, and average the values with those weights.
#
# Two details matter.
#
# - **Scaling.** The dot product of two random vectors of width `hs` has a
#   standard deviation of about `sqrt(hs)`. Dividing by `sqrt(hs)` keeps the
#   scores near unit scale whatever the head width, so the softmax neither
#   saturates nor flattens at initialisation.
# - **Nothing allowed.** A query whose mask row is all False (it happens with
#   padding masks) has no keys to average. Its output is defined as zero.
#
# **Exercise.** Write `attention_loop(q, k, v, mask=None)` on NumPy arrays of
# shape `(..., T, hs)`, `(..., S, hs)`, `(..., S, hv)`, with an explicit loop
# over the batch positions and over queries. It is the reference the fast
# versions are checked against.


# %%
#| export
def attention_loop(q, k, v, mask=None):
    """Reference attention on NumPy arrays, one query at a time (slow, clear)."""
    *batch, T, hs = q.shape
    S = k.shape[-2]
    out = np.zeros((*batch, T, v.shape[-1]), dtype=np.result_type(q, v))
    allowed = np.ones((T, S), dtype=bool) if mask is None else np.asarray(mask)
    allowed = np.broadcast_to(allowed, (*batch, T, S))
    ### BEGIN SOLUTION
    for b in np.ndindex(*batch):
        for i in range(T):
            keep = allowed[b][i]  # (S,)
            if not keep.any():
                continue
            scores = k[b][keep] @ q[b][i] / math.sqrt(hs)  # (S_kept,)
            weights = np.exp(scores - scores.max())
            weights /= weights.sum()
            out[b][i] = weights @ v[b][keep]  # (hv,)
    ### END SOLUTION
    return out


# %% [markdown]
# A hand-worked case: one query, two keys. The query matches the first key
# perfectly and is orthogonal to the second, so with `hs = 2` the scores are
# `[1/sqrt(2), 0]` and the weights are `[e^a, 1] / (e^a + 1)` with `a = 1/sqrt(2)`.

# %%
q1 = np.array([[1.0, 0.0]])
k1 = np.array([[1.0, 0.0], [0.0, 1.0]])
v1 = np.array([[10.0], [20.0]])
a = 1 / math.sqrt(2)
expected = (10 * math.exp(a) + 20) / (math.exp(a) + 1)
assert np.isclose(attention_loop(q1, k1, v1)[0, 0], expected)
assert np.allclose(attention_loop(q1, k1, v1, mask=[[True, False]]), 10.0)
assert np.allclose(attention_loop(q1, k1, v1, mask=[[False, False]]), 0.0)

# %% [markdown]
# ## 3. The batched version, and a softmax that cannot fail
#
# The loop computes, for every query, one row of scores. Stacked, those rows are
# one matrix product: `scores = q @ k.T / sqrt(hs)`, shape `(..., T, S)`.
# After the softmax, `weights @ v` averages the values for every query at once.
# Batch and head axes ride along: `np.matmul` multiplies the last two axes and
# broadcasts the rest.
#
# The softmax needs care in three ways.
#
# 1. **Large scores.** `exp(1000)` overflows. Subtracting each row's maximum
#    first changes nothing mathematically (the factor cancels) and keeps every
#    exponent `<= 0`.
# 2. **Masked scores must not leak.** A common shortcut adds a big negative
#    number such as `-1e9` to masked scores. It fails when real scores are
#    larger than that: the masked entries get weight again. Here masked scores
#    are *replaced* by `-inf`, and `exp(-inf)` is exactly 0 at any magnitude.
# 3. **A row with nothing allowed** has maximum `-inf`, and `-inf - (-inf)` is
#    NaN. Such rows are shifted by 0 instead, their exponentials are all 0,
#    and dividing by a sum of 0 is avoided: their weights stay 0.
#
# **Exercise.** Write `masked_softmax(scores, mask=None)`. It works *in place*
# on `scores` (a float array it may overwrite) and returns it: attention makes
# one `(B, nh, T, S)` score array per call, and not copying it again matters.


# %%
#| export
def masked_softmax(scores, mask=None):
    """Softmax along the last axis where `mask` is True, 0 elsewhere; in place."""
    ### BEGIN SOLUTION
    if mask is not None:
        np.copyto(scores, -np.inf, where=~mask)
    peak = scores.max(axis=-1, keepdims=True)  # (..., T, 1)
    peak[~np.isfinite(peak)] = 0.0  # rows with nothing allowed
    np.subtract(scores, peak, out=scores)
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)  # (..., T, 1)
    total[total == 0] = 1.0
    scores *= np.reciprocal(total, out=total)  # multiply: cheaper than divide
    ### END SOLUTION
    return scores


def attention_weights(q, k, mask=None):
    """softmax(q k^T / sqrt(hs)) with the mask applied, on arrays: (..., T, S)."""
    scores = np.matmul(q, np.swapaxes(k, -1, -2))  # (..., T, S)
    scores *= 1.0 / math.sqrt(q.shape[-1])
    return masked_softmax(scores, mask)


# %%
big = np.array([[1000.0, 999.0, -1000.0]], dtype=np.float32)
w = masked_softmax(big.copy())
assert np.isfinite(w).all() and np.isclose(w.sum(), 1.0)
leak = masked_softmax(np.array([[1e12, 0.0]]), mask=np.array([[False, True]]))
assert np.array_equal(leak, [[0.0, 1.0]])  # a huge masked score gets weight 0
empty = masked_softmax(np.array([[3.0, 4.0]]), mask=np.array([[False, False]]))
assert np.array_equal(empty, [[0.0, 0.0]])  # zeros, not NaN

rng = np.random.default_rng(0)
q3, k3, v3 = (rng.standard_normal((2, 3, 5, 4)) for _ in range(3))
batched = attention_weights(q3, k3, causal_mask(5)) @ v3
assert np.allclose(batched, attention_loop(q3, k3, v3, causal_mask(5)))

# %% [markdown]
# ## 4. Attention from Tensor operations
#
# With the foundation's `Tensor`, the batched version can be written from
# operations autograd already knows: a matmul, a scale, `masked_fill` (which,
# like PyTorch's, fills where *its* argument is True, so it receives the
# complement `~mask`), an exponential, a sum and a division. Autograd then gives
# the backward for free. The row maximum and the guard against an empty row
# are constants: a softmax does not change when a constant is subtracted from
# a row, so they need no gradient.
#
# This composed version is correct but stores every intermediate for the
# backward pass (scores, shifted scores, exponentials, sums, weights) and walks
# the graph node by node. It is the oracle for the fused version below.
#
# **Exercise.** Write `attention_composed(q, k, v, mask=None)` on Tensors.


# %%
#| export
def attention_composed(q, k, v, mask=None):
    """Scaled dot-product attention built from Tensor ops (autograd backward)."""
    ### BEGIN SOLUTION
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~np.asarray(mask, dtype=bool), -np.inf)
    peak = scores.data.max(axis=-1, keepdims=True)  # (..., T, 1), constant
    peak = np.where(np.isfinite(peak), peak, 0.0).astype(scores.data.dtype)
    e = (scores - Tensor(peak)).exp()  # (..., T, S)
    total = e.sum(axis=-1, keepdims=True)  # (..., T, 1)
    guard = (total.data == 0).astype(total.data.dtype)  # 1 on empty rows
    weights = e / (total + Tensor(guard))
    return weights @ v  # (..., T, hv)
    ### END SOLUTION


# %%
qt, kt, vt = (Tensor(a.astype(np.float32), requires_grad=True) for a in (q3, k3, v3))
out = attention_composed(qt, kt, vt, causal_mask(5))
assert np.allclose(out.data, batched, atol=1e-5)
out.sum().backward()
assert qt.grad.shape == qt.shape and np.isfinite(qt.grad).all()

# %% [markdown]
# ## 5. One op, one backward
#
# Write the forward as `O = W V` with `W = softmax(S)` and
# `S = Q K^T / sqrt(hs)` (masked). Given the upstream gradient `dO`:
#
# - `dV = W^T dO` and `dW = dO V^T` (the two sides of a matmul);
# - the softmax backward, row by row: `dS = W * (dW - sum(dW * W, along S))`.
#   Masked entries have `W = 0`, so they get no gradient, and an empty row
#   gets none at all;
# - `dQ = dS K / sqrt(hs)` and `dK = dS^T Q / sqrt(hs)`.
#
# Two savings. The row sums `sum(dW * W)` need not touch any `(T, S)` array:
# since `O = W V`, they equal `sum(dO * O)` along the head width, four times
# less work when `S = 4 hs`. And scaling `Q` once before the product is cheaper
# than scaling every score: the op below passes the *scaled* `Q` in, so that
# `dK = dS^T Q_scaled`, and scales `dQ` itself on the way out.
#
# Only `Q`, `K`, `V`, `W` and `O` need saving: one `(..., T, S)` array instead
# of the five the composed version keeps. Dropout on the weights, when asked for,
# multiplies `W` by a keep-mask scaled by `1 / (1 - p)` in the forward, and `dW`
# by the same in the backward; `drop` below is that scaled mask, or None.
#
# **Exercise.** Write `attention_forward`, which returns the output and the
# weights, and `attention_backward`, which returns the three gradients. All
# arguments are NumPy arrays.


# %%
#| export
def attention_forward(q, k, v, mask=None, drop=None):
    """(out (..., T, hv), weights (..., T, S)) for a scaled q; drop scales W."""
    ### BEGIN SOLUTION
    scores = np.matmul(q, np.swapaxes(k, -1, -2))  # (..., T, S)
    weights = masked_softmax(scores, mask)  # (..., T, S)
    used = weights if drop is None else weights * drop
    return np.matmul(used, v), weights  # (..., T, hv)
    ### END SOLUTION


def attention_backward(grad, q, k, v, weights, out, drop=None):
    """(grad_q, grad_k, grad_v) from dO; grad_q is for the scaled q."""
    ### BEGIN SOLUTION
    used = weights if drop is None else weights * drop
    grad_v = np.matmul(np.swapaxes(used, -1, -2), grad)  # (..., S, hv)
    grad_w = np.matmul(grad, np.swapaxes(v, -1, -2))  # (..., T, S)
    if drop is not None:
        grad_w *= drop
    row = np.einsum("...th,...th->...t", grad, out)[..., None]  # (..., T, 1)
    grad_w -= row
    grad_w *= weights  # now dS, the gradient of the scores
    grad_q = np.matmul(grad_w, k)  # (..., T, hs)
    grad_k = np.matmul(np.swapaxes(grad_w, -1, -2), q)  # (..., S, hs)
    return grad_q, grad_k, grad_v
    ### END SOLUTION


# %% [markdown]
# ### Skipping what the mask hides
#
# Under a causal mask, half of every `(T, S)` array is thrown away: scores
# computed, exponentiated and then zeroed. The op below cuts the queries into
# tiles of 32 rows and gives each tile only the keys some query in it may see;
# for `T = 128` that is 10 of 16 key blocks, 62% of the work. Each tile's
# softmax is complete, as no allowed key is left out. The tiles call your two
# functions, so they must work for any number of queries and keys.


# %%
#| export
TILE = 32  # query rows per tile


def query_tiles(mask, T, S):
    """[(t0, t1, s, tile_mask)]: queries t0:t1 see keys only below s."""
    if mask is None:
        return [(0, T, S, None)]
    full = np.broadcast_to(mask, (*mask.shape[:-2], T, S))  # (..., T, S)
    seen = full.reshape(-1, T, S).any(axis=0)  # (T, S): allowed anywhere
    tiles = []
    for t0 in range(0, T, TILE):
        t1 = min(t0 + TILE, T)
        cols = np.flatnonzero(seen[t0:t1].any(axis=0))
        s = int(cols[-1]) + 1 if cols.size else 0
        part = full[..., t0:t1, :s]
        tiles.append((t0, t1, s, None if part.all() else part))
    return tiles


class Attention(Function):
    """softmax(q k^T / sqrt(hs), masked) v as one op with a hand-written backward.

    q (..., T, hs), k (..., S, hs), v (..., S, hv) -> (..., T, hv). `mask` is
    boolean, True where allowed, broadcastable to (..., T, S). `keep` is an
    optional dropout keep-mask for the weights, of shape (..., T, S).
    Packed form: q holds all three, (3, ..., T, hs), and k = v = None; its
    gradient then comes back as one (3, ..., T, hs) array.
    """

    @staticmethod
    def forward(ctx, q, k, v, mask=None, dropout_p=0.0, keep=None):
        ctx.packed = k is None
        if ctx.packed:
            q, k, v = q  # three views, no copy
        T, S = q.shape[-2], k.shape[-2]
        ctx.scale = np.asarray(1.0 / math.sqrt(q.shape[-1]), q.dtype)
        q = q * ctx.scale  # (..., T, hs), scaled once
        drop = None
        if keep is not None:
            drop = keep * np.asarray(1.0 / (1.0 - dropout_p), q.dtype)  # (..., T, S)
        out = np.zeros((*q.shape[:-1], v.shape[-1]), np.result_type(q, v))
        ctx.tiles = []
        for t0, t1, s, part in query_tiles(mask, T, S):
            if s == 0:
                continue  # nothing allowed: the rows stay 0
            d = None if drop is None else drop[..., t0:t1, :s]
            o, w = attention_forward(
                q[..., t0:t1, :], k[..., :s, :], v[..., :s, :], part, d
            )
            out[..., t0:t1, :] = o
            ctx.tiles.append((t0, t1, s, w, d))
        ctx.save_for_backward(q, k, v, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, out = ctx.saved_tensors  # q is already scaled
        grad_q = np.zeros_like(q)
        grad_k, grad_v = np.zeros_like(k), np.zeros_like(v)
        for t0, t1, s, w, d in ctx.tiles:
            rows, keys = (
                (..., slice(t0, t1), slice(None)),
                (..., slice(0, s), slice(None)),
            )
            gq, gk, gv = attention_backward(
                grad[rows], q[rows], k[keys], v[keys], w, out[rows], d
            )
            grad_q[rows] = gq
            grad_k[keys] += gk
            grad_v[keys] += gv
        grad_q *= ctx.scale
        if ctx.packed:
            return np.stack([grad_q, grad_k, grad_v]), None, None, None, None, None
        return grad_q, grad_k, grad_v, None, None, None


# %% [markdown]
# The public function checks shapes, turns `is_causal` into a mask, draws the
# dropout keep-mask when `dropout_p > 0`, and calls the op. Like PyTorch's,
# it applies dropout whenever `dropout_p > 0`: a module passes 0 in eval mode.
# Passing both `mask` and `is_causal=True` keeps only what both allow.


# %%
#| export
def scaled_dot_product_attention(
    q, k, v, mask=None, is_causal=False, dropout_p=0.0, rng=None
):
    """Attention on Tensors (..., T, hs), (..., S, hs), (..., S, hv) -> (..., T, hv).

    `mask`: boolean, True where a query may attend to a key, broadcastable to
    (..., T, S). `is_causal`: add the causal mask. `rng`: a NumPy Generator for
    the dropout draw (default: seeded from NumPy's global random state).
    With k = v = None, q is packed: (3, ..., T, hs) holding q, k and v.
    """
    q = q if isinstance(q, Tensor) else Tensor(q)
    if k is None and v is None:
        if q.ndim < 3 or q.shape[0] != 3:
            raise ValueError(
                f"packed attention needs q of shape (3, ..., T, hs), got {q.shape}; "
                "or pass k and v separately"
            )
        shapes = (q.shape[1:],) * 3
    else:
        k, v = (x if isinstance(x, Tensor) else Tensor(x) for x in (k, v))
        shapes = (q.shape, k.shape, v.shape)
    _check_shapes(*shapes)
    T, S = shapes[0][-2], shapes[1][-2]
    if mask is not None:
        mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if mask.dtype != bool:
            raise TypeError(
                f"attention mask must be boolean (True where allowed), got "
                f"{mask.dtype}; convert it with mask.astype(bool) or `scores > x`"
            )
        if np.broadcast_shapes(mask.shape, (T, S))[-2:] != (T, S):
            raise ValueError(
                f"mask of shape {mask.shape} does not broadcast to the scores "
                f"(..., {T}, {S})"
            )
    if is_causal:
        mask = causal_mask(T, S) if mask is None else mask & causal_mask(T, S)
    keep = None
    if dropout_p > 0.0:
        rng = rng or np.random.default_rng(np.random.randint(0, 2**31 - 1))
        shape = (*shapes[0][:-2], T, S)
        keep = rng.random(shape, dtype=np.float32) >= dropout_p  # (..., T, S)
    return Attention.apply(q, k, v, mask, dropout_p, keep)


def _check_shapes(qs, ks, vs):
    ok = (
        len(qs) >= 2
        and len(qs) == len(ks) == len(vs)
        and qs[:-2] == ks[:-2] == vs[:-2]
        and qs[-1] == ks[-1]
        and ks[-2] == vs[-2]
    )
    if not ok:
        raise ValueError(
            f"attention needs q (..., T, hs), k (..., S, hs), v (..., S, hv) with the "
            f"same leading axes; got q {qs}, k {ks}, v {vs}"
        )


# %% [markdown]
# Three checks: the fused op against the loop reference; its gradients against
# the composed version's; and its gradients against finite differences, with
# the foundation's `gradcheck` in float64.

# %%
from tinytorch.autograd import gradcheck

fused = scaled_dot_product_attention(qt, kt, vt, is_causal=True)
assert np.allclose(fused.data, attention_loop(q3, k3, v3, causal_mask(5)), atol=1e-5)

upstream = Tensor(rng.standard_normal((2, 3, 5, 4)).astype(np.float32))
grads = []
for fn in (attention_composed, scaled_dot_product_attention):
    xs = [Tensor(a.astype(np.float32), requires_grad=True) for a in (q3, k3, v3)]
    (fn(*xs, causal_mask(5)) * upstream).sum().backward()
    grads.append([x.grad for x in xs])
for g_composed, g_fused in zip(*grads, strict=True):
    assert np.allclose(g_composed, g_fused, atol=1e-5)

small = [Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True) for _ in range(3)]
assert gradcheck(
    lambda a, b, c: scaled_dot_product_attention(a, b, c, causal_mask(4)), small
)
print("fused attention matches the loop, the composed graph and finite differences")

# %% [markdown]
# ## 6. Multi-head attention
#
# One head of width `C` compares queries and keys in one way. Splitting the
# width into `nh` heads of width `hs = C / nh` lets the model attend in `nh`
# different ways at the cost of one: each head has its own slice of the
# queries, keys and values, and the heads' outputs are concatenated and mixed
# by an output projection.
#
# The queries, keys and values come from **one** fused `Linear(C, 3C)`: one big
# matrix product is faster than three small ones. The split into heads is a
# reshape and one transpose, no copy of the data:
#
# ```
# (B, T, 3C) -> (B, T, 3, nh, hs) -> (3, B, nh, T, hs)
# ```
#
# That stacked tensor goes to attention whole, in the *packed* form
# (`k = v = None`): the op takes its three views itself and returns the three
# gradients as one stacked array. Indexing `qkv[0]`, `qkv[1]`, `qkv[2]` as
# three Tensors would work too, but each index's backward would fill a
# zero array the size of all three, and autograd would then add the three up.
#
# After attention, `(B, nh, T, hs) -> (B, T, nh, hs) -> (B, T, C)` merges the
# heads back (the one copy: the transpose made the data non-contiguous).
#
# **Exercise.** Write `MultiHeadAttention.forward` for a `(B, T, C)` input.


# %%
#| export
class MultiHeadAttention(Module):
    """Self-attention with `num_heads` heads and one fused qkv projection.

    forward(x (B, T, C), mask=None, is_causal=False) -> (B, T, C). `dropout`
    applies to the attention weights and to the output, in training mode.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True):
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads != 0:
            fits = [h for h in range(1, min(embed_dim, 16) + 1) if embed_dim % h == 0]
            raise ValueError(
                f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}; "
                f"choose num_heads from {fits} (or change embed_dim)"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.qkv = Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.proj = Linear(embed_dim, embed_dim, bias=bias)
        self.out_drop = Dropout(dropout)

    def forward(self, x, mask=None, is_causal=False):
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiHeadAttention expects (B, T, {self.embed_dim}), got "
                f"{tuple(x.shape)}; add a batch axis with x.reshape(1, T, C)"
            )
        B, T, C = x.shape
        nh, hs = self.num_heads, self.head_dim
        ### BEGIN SOLUTION
        qkv = self.qkv(x).reshape(B, T, 3, nh, hs).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0  # qkv: (3, B, nh, T, hs)
        y = scaled_dot_product_attention(qkv, None, None, mask, is_causal, p)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.out_drop(self.proj(y))
        ### END SOLUTION


# %% [markdown]
# Two checks. Causality end to end: with `is_causal=True`, changing the token
# at position 3 must leave the outputs at positions 0-2 exactly as they were.
# And the heads really are independent slices: one head of the fused weights
# reproduces, with the loop reference, its slice of the output before the
# projection.

# %%
mha = MultiHeadAttention(16, 4)
x = rng.standard_normal((2, 6, 16)).astype(np.float32)
y1 = mha(Tensor(x), is_causal=True).data
x2 = x.copy()
x2[:, 3] += 5.0
y2 = mha(Tensor(x2), is_causal=True).data
assert np.allclose(y1[:, :3], y2[:, :3], atol=1e-6) and not np.allclose(
    y1[:, 3], y2[:, 3]
)

try:
    MultiHeadAttention(10, 4)
    raise AssertionError("10 is not divisible by 4")
except ValueError as e:
    print(e)

# %% [markdown]
# ## 7. Systems: attention costs `T²`
#
# The weights array is `(B, nh, T, T)`: memory and time grow with the square
# of the context. For a GPT with `n_layer` layers, training keeps one such
# array per layer for the backward pass. In float32:

# %%
B_, nh_, L_ = 32, 4, 4
for T_ in (64, 128, 256, 512, 1024, 2048):
    per_layer = B_ * nh_ * T_ * T_ * 4
    print(
        f"T={T_:5d}: weights {per_layer / 2**20:8.1f} MiB per layer, "
        f"{L_ * per_layer / 2**20:8.1f} MiB for {L_} layers (B={B_}, nh={nh_})"
    )

# %% [markdown]
# The matrix work per layer is `2 * B * T * T * C` multiply-adds for the scores
# and the same again for `weights @ v`: quadratic in `T`, while the
# projections cost `4 * B * T * C * C`, linear in `T`. Attention's share of the
# work passes the projections' when `T > 2C`. Measure forward and backward of
# the fused op as `T` doubles (batch 4, 4 heads, head width 32): the time
# should roughly double, then quadruple once the `T × T` part dominates.

# %%
import time


def time_attention(T_, repeat=5):
    shape = (4, 4, T_, 32)
    xs = [Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
          for _ in range(3)]  # fmt: skip
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        scaled_dot_product_attention(*xs, is_causal=True).sum().backward()
        best = min(best, time.perf_counter() - start)
    return best


previous = None
for T_ in (64, 128, 256, 512):
    t = time_attention(T_)
    growth = "" if previous is None else f"  x{t / previous:.1f}"
    print(f"T={T_:4d}: {t * 1e3:7.2f} ms forward+backward{growth}")
    previous = t

# %% [markdown]
# And the three versions side by side on one batch (B=4, nh=4, T=64, hs=32):
# the loop, the composed Tensor graph, and the fused op.

# %%
shape = (4, 4, 64, 32)
arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]


def run(fn):
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    start = time.perf_counter()
    fn(*xs, causal_mask(64)).sum().backward()
    return time.perf_counter() - start


start = time.perf_counter()
attention_loop(*arrays, causal_mask(64))
loop_s = time.perf_counter() - start
composed_s = min(run(attention_composed) for _ in range(3))
fused_s = min(run(scaled_dot_product_attention) for _ in range(3))
print(f"loop (forward only):       {loop_s * 1e3:8.2f} ms")
print(f"composed forward+backward: {composed_s * 1e3:8.2f} ms")
print(f"fused forward+backward:    {fused_s * 1e3:8.2f} ms")

# %% [markdown]
# ## What you built
#
# - `causal_mask` and one mask convention: True where attention is allowed.
# - `attention_loop`, the reference; `masked_softmax`, safe at any magnitude,
#   with empty rows giving zeros.
# - `attention_composed` from Tensor ops, and `Attention`, the same maths as one
#   op with a hand-written backward, which saves one `(T, S)` array per head
#   instead of five.
# - `MultiHeadAttention` with one fused qkv projection.
#
# Next, module 13 stacks these into a transformer block and a GPT.

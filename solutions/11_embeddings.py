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
# # Module 11: Embeddings and positions
#
# The tokenizers of module 10 turn text into integer ids. A network needs
# vectors. An *embedding* is a table with one learned row per token id: the
# forward pass looks rows up, the backward pass sends each position's gradient
# back to the row it came from.
#
# The lookup is one line of NumPy. The backward pass is where the care goes:
# the same id appears many times in a batch (every space, every `e`), and every
# occurrence must add its gradient to the same row. You will write it as a loop,
# see the one-line vectorised version that silently gets it wrong, and then
# build a fast version that gets it right.
#
# Then positions: attention (module 12) treats its input as a set, so the model
# is told where each token sits, either with fixed sinusoids or with a second,
# learned table.
#
# The systems section times four ways of accumulating the gradient at the
# shapes of a small GPT, and looks at what the table costs in memory.

# %%
#| default_exp nn.embedding

# %%
#| export
"""Embedding tables and positional encodings for token sequences.

Embedding: a learned (V, C) table looked up by integer ids of any shape, with a
hand-written backward that adds the gradients of repeated ids. Positional
encodings add position information to (..., T, C) inputs: fixed sinusoids, or
a learned (max_len, C) table.
"""

import numpy as np
from tinytorch.autograd import Function
from tinytorch.nn.modules import Module, Parameter
from tinytorch.tensor import Tensor

# %% [markdown]
# ## 1. A lookup is a matrix product
#
# Write token id `i` as a one-hot row: zeros except a 1 at column `i`. A batch
# of one-hot rows times the table `W` (shape `(V, C)`) picks rows of `W`. The
# lookup `W[ids]` gives the same numbers without building the one-hot matrix:

# %%
rng = np.random.default_rng(0)
W = rng.standard_normal((10, 4)).astype(np.float32)  # (V, C)
ids = np.array([3, 3, 3, 7])
one_hot = np.eye(10, dtype=np.float32)[ids]  # (N, V)
assert np.allclose(one_hot @ W, W[ids])
print(W[ids].shape)

# %% [markdown]
# The matrix view tells us the gradient too. For `out = one_hot @ W`, the
# gradient of `W` is `one_hot.T @ grad_out`: row `v` of the gradient is the sum
# of `grad_out` over every position whose id is `v`. With ids `[3, 3, 3, 7]`
# and an upstream gradient of ones, row 3 gets 3 and row 7 gets 1.
#
# The plainest way to compute it is a loop over positions:


# %%
def sum_rows_loop(ids, rows, num_rows):
    """Loop version: out[v] = sum of rows[i] over positions i with ids[i] == v."""
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    for i, v in enumerate(ids):
        out[v] += rows[i]
    return out


ones = np.ones((4, 4), dtype=np.float32)
print(sum_rows_loop(ids, ones, 10)[[3, 7]])

# %% [markdown]
# The tempting vectorised line is wrong. `out[ids] += rows` reads the rows once,
# adds, and writes back once per index, so three writes to row 3 leave only the
# last one:

# %%
wrong = np.zeros((10, 4), dtype=np.float32)
wrong[ids] += ones
print("out[ids] += rows gives row 3 =", wrong[3, 0], "instead of 3")

# %% [markdown]
# Three correct alternatives, each with a cost:
#
# - `np.add.at(out, ids, rows)` handles repeats, but goes element by element
#   and is slow (timed in the systems section).
# - `one_hot.T @ grad_out` is one BLAS call, but does `V x N x C`
#   multiply-adds, almost all of them with zero. Fine for 65 characters, costly
#   for a large vocabulary.
# - Sort the positions by id, so that equal ids sit next to each other, and
#   add up each group. This is the version the package exports.
#
# ## 2. Adding rows that share an id
#
# After sorting, how to add up each group depends on its size.
#
# - An id that occurs **many times** (more than `K`, here 16) is a long run of
#   rows: sum the run in one call. There are at most `N / K` such ids.
# - The other ids occur at most `K` times each. Number each occurrence of an id
#   0, 1, 2, ... (its *rank*). Among the rows of one rank, every id is
#   different, so `out[ids_k] += rows_k` is exact. That is at most `K` passes.
#
# So the Python loops run at most `K + N / K` times, whatever the batch holds:
# a batch of one repeated padding id is one long run; a batch of distinct ids is
# one pass. No loop runs over tokens, and no `np.add.at`.
#
# Numbering the occurrences is itself vectorised: after sorting, `starts` holds
# the index where each group begins, and
# `rank = arange(N) - repeat(starts, counts)`. (`np.take(a, idx, axis=0)` is
# the same as `a[idx]`, and measurably faster for picking rows.)
#
# **Exercise.** Write `sum_rows_by_id`.

# %%
#| export
# Ids that occur more often than this are summed as one run; the rest in passes.
_LONG_RUN = 16


def sum_rows_by_id(ids, rows, num_rows):
    """out[v] = sum of rows[i] over every i with ids[i] == v; out is (num_rows, C).

    ids: (N,) integers in [0, num_rows); rows: (N, C).
    """
    ### BEGIN SOLUTION
    n, width = rows.shape
    out = np.zeros((num_rows, width), dtype=rows.dtype)  # (V, C)
    if n == 0:
        return out
    key = ids.astype(np.int16) if num_rows <= 2**15 else ids  # radix sort
    order = np.argsort(key, kind="stable")
    sorted_ids = ids[order]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=n)
    rank = np.arange(n) - np.repeat(starts, counts)  # occurrence number, (N,)

    long = counts > _LONG_RUN
    if long.any():
        in_long = np.repeat(long, counts)
        run_rows = np.take(rows, order[in_long], axis=0)  # (R, C): run after run
        run_ids = sorted_ids[starts[long]].tolist()
        ends = np.cumsum(counts[long]).tolist()
        for v, a, b in zip(run_ids, [0, *ends[:-1]], ends, strict=True):
            out[v] = run_rows[a:b].sum(axis=0)  # (C,)
        order, rank = order[~in_long], rank[~in_long]
        if order.size == 0:
            return out

    by_rank = np.argsort(rank.astype(np.int16), kind="stable")
    picked = order[by_rank]  # rank 0 of every id, then rank 1, ...
    bounds = np.searchsorted(rank[by_rank], np.arange(rank.max() + 2)).tolist()
    pass_ids = ids[picked]
    head = picked[: bounds[1]]
    out[pass_ids[: bounds[1]]] = np.take(rows, head, axis=0)  # rows still zero
    for a, b in zip(bounds[1:-1], bounds[2:], strict=True):
        target = pass_ids[a:b]  # distinct ids within one pass
        total = np.take(out, target, axis=0)  # (M, C)
        total += np.take(rows, picked[a:b], axis=0)
        out[target] = total
    return out
    ### END SOLUTION


# %% [markdown]
# Check it against the loop on the example, on random ids, and on the two
# extremes: one id repeated everywhere, and every id different.

# %%
assert np.array_equal(sum_rows_by_id(ids, ones, 10), sum_rows_loop(ids, ones, 10))
for V, N in [(65, 4096), (1024, 4096), (5, 3), (50_000, 200)]:
    some = rng.integers(0, V, size=N)
    g = rng.standard_normal((N, 8)).astype(np.float32)
    assert np.allclose(sum_rows_by_id(some, g, V), sum_rows_loop(some, g, V), atol=1e-4)
g = rng.standard_normal((1000, 8)).astype(np.float32)
for extreme in [np.full(1000, 7), rng.permutation(1000)]:
    assert np.allclose(
        sum_rows_by_id(extreme, g, 1000), sum_rows_loop(extreme, g, 1000), atol=1e-4
    )

# %% [markdown]
# ## 3. The embedding as an op
#
# `EmbeddingFunction` is a `Function` (module 05): `forward` looks the rows up,
# `backward` returns the table's gradient, and `None` for the ids and the
# padding index, which have no gradient. The ids may have any shape: a batch
# `(B, T)` of ids gives `(B, T, C)` vectors.
#
# `padding_idx` names an id used to fill short sequences. Its row starts at
# zero and receives no gradient, so it stays zero.
#
# Bad ids fail loudly. NumPy would index `W[-1]` as the last row without a
# word, and a wrong vocabulary size is a common bug, so the module checks the
# range and names the offending id.
#
# **Exercise.** Write `EmbeddingFunction.forward` and `backward`.


# %%
#| export
class EmbeddingFunction(Function):
    """apply(weight (V, C), ids (...), padding_idx or None) -> (..., C)."""

    @staticmethod
    def forward(ctx, weight, ids, padding_idx):
        ### BEGIN SOLUTION
        ctx.ids = ids
        ctx.num_rows = weight.shape[0]
        ctx.padding_idx = padding_idx
        return np.take(weight, ids, axis=0)  # (..., C)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out):
        ### BEGIN SOLUTION
        width = grad_out.shape[-1]
        rows = grad_out.reshape(-1, width)  # (N, C)
        grad = sum_rows_by_id(ctx.ids.reshape(-1), rows, ctx.num_rows)  # (V, C)
        if ctx.padding_idx is not None:
            grad[ctx.padding_idx] = 0.0
        return grad, None, None
        ### END SOLUTION


def _as_ids(ids, num_embeddings):
    """Integer ids as an int64 array, every one of them in [0, num_embeddings)."""
    if isinstance(ids, Tensor):
        ids = ids.data
    ids = np.asarray(ids)
    if ids.size == 0:
        return ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(
            f"Embedding takes integer token ids, got an array of {ids.dtype}; "
            "convert the ids with .astype(np.int64)"
        )
    bad = (ids < 0) | (ids >= num_embeddings)
    if bad.any():
        first = int(ids[bad].flat[0])
        raise ValueError(
            f"token id {first} is out of range for an Embedding of vocabulary "
            f"size {num_embeddings} (valid ids 0..{num_embeddings - 1}); "
            "check the tokenizer's vocab_size"
        )
    return ids.astype(np.int64, copy=False)


class Embedding(Module):
    """A learned table of `num_embeddings` vectors of width `embedding_dim`.

    forward(ids of any shape (...)) -> Tensor (..., embedding_dim). The weight
    starts N(0, 1), as in PyTorch; the padding row starts at zero and gets no
    gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        if padding_idx is not None:
            if padding_idx < 0:
                padding_idx += num_embeddings
            if not 0 <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx must be within 0..{num_embeddings - 1} "
                    f"(vocabulary size {num_embeddings}), got {padding_idx}"
                )
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        weight = np.random.standard_normal((num_embeddings, embedding_dim))
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.weight = Parameter(weight.astype(np.float32))  # (V, C)

    def forward(self, ids):
        ids = _as_ids(ids, self.num_embeddings)
        return EmbeddingFunction.apply(self.weight, ids, self.padding_idx)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


# %% [markdown]
# The check from the course's list: ids `[3, 3, 3, 7]` with an upstream
# gradient of ones give row 3 = 3 and row 7 = 1. Then finite differences, with
# repeated ids in a `(B, T)` batch, and the padding row.

# %%
from tinytorch.autograd import gradcheck

emb = Embedding(10, 4)
emb(np.array([3, 3, 3, 7])).sum().backward()
assert np.all(emb.weight.grad[3] == 3) and np.all(emb.weight.grad[7] == 1)
assert np.count_nonzero(emb.weight.grad) == 8

batch = rng.integers(0, 6, size=(2, 5))
table = rng.standard_normal((6, 3))
assert gradcheck(lambda w: EmbeddingFunction.apply(w, batch, None), [table])

padded = Embedding(6, 3, padding_idx=0)
out = padded(np.array([[0, 1, 0], [2, 0, 1]]))
assert out.shape == (2, 3, 3) and np.all(out.data[0, 0] == 0)
(out * out + out).sum().backward()
assert np.all(padded.weight.grad[0] == 0) and np.any(padded.weight.grad[1] != 0)

try:
    emb(np.array([[1, 2], [10, 3]]))
    raise AssertionError("id 10 must be refused by a table of 10 rows")
except ValueError as e:
    print(e)

# %% [markdown]
# ## 4. Positions
#
# Attention, the next module, mixes the vectors of a sequence with weights that
# depend only on the vectors themselves. Shuffle the tokens and it shuffles its
# output the same way: on its own it cannot tell "dog bites man" from "man
# bites dog". So each position gets a vector too, added to the token's.
#
# **Sinusoidal** (the original transformer): column pairs `2i, 2i + 1` hold
# `sin(p * w_i)` and `cos(p * w_i)` with frequencies
# `w_i = base ** (-2i / C)`, `base = 10000`, from one cycle per 6 positions
# down to one per about 60,000. Nothing is learned, and any position up to
# `max_len` has a vector. With an odd width `C`, the last column is one more
# sine.
#
# **Learned**: a second table of shape `(max_len, C)`, trained like the token
# embedding (GPT-2 does this). It can only cover the lengths it was built for.
#
# Both take the token vectors `(..., T, C)` and return them with the positions
# `0 .. T-1` added. A sequence longer than the table is an error that says
# which lengths are allowed.
#
# **Exercise.** Write `sinusoidal_table` and `LearnedPositionalEmbedding.forward`.


# %%
#| export
def sinusoidal_table(max_len, dim, base=10000.0):
    """(max_len, dim) float32: column 2i is sin(p w_i), column 2i + 1 cos(p w_i)."""
    ### BEGIN SOLUTION
    pairs = (dim + 1) // 2
    freq = base ** (-2.0 * np.arange(pairs) / dim)  # (ceil(C / 2),)
    angle = np.arange(max_len)[:, None] * freq  # (L, ceil(C / 2))
    table = np.empty((max_len, dim))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : dim // 2])
    return table.astype(np.float32)
    ### END SOLUTION


def _check_positions(layer, x):
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim < 2 or x.shape[-1] != layer.embedding_dim:
        raise ValueError(
            f"{type(layer).__name__} expects vectors of shape (..., T, "
            f"{layer.embedding_dim}), got {x.shape}"
        )
    T = x.shape[-2]
    if T > layer.max_len:
        raise ValueError(
            f"sequence of {T} positions is longer than the {type(layer).__name__} "
            f"table of max_len={layer.max_len}; build it with max_len >= {T} or "
            f"crop the sequence to {layer.max_len} tokens"
        )
    return x, T


class SinusoidalPositionalEncoding(Module):
    """Adds fixed sine/cosine position vectors: (..., T, C) -> (..., T, C)."""

    def __init__(self, max_len, embedding_dim, base=10000.0):
        super().__init__()
        self.max_len = max_len
        self.embedding_dim = embedding_dim
        self.base = base
        self.register_buffer("pe", sinusoidal_table(max_len, embedding_dim, base))

    def forward(self, x):
        x, T = _check_positions(self, x)
        return x + Tensor(self.pe[:T])  # (..., T, C)

    def extra_repr(self):
        return f"{self.max_len}, {self.embedding_dim}"


class LearnedPositionalEmbedding(Module):
    """Adds a learned vector per position: (..., T, C) -> (..., T, C).

    The table (max_len, C) starts N(0, 0.02), as in GPT-2.
    """

    def __init__(self, max_len, embedding_dim):
        super().__init__()
        self.max_len = max_len
        self.embedding_dim = embedding_dim
        weight = np.random.normal(0.0, 0.02, (max_len, embedding_dim))
        self.weight = Parameter(weight.astype(np.float32))  # (L, C)

    def forward(self, x):
        x, T = _check_positions(self, x)
        ### BEGIN SOLUTION
        return x + self.weight[:T]  # (..., T, C)
        ### END SOLUTION

    def extra_repr(self):
        return f"{self.max_len}, {self.embedding_dim}"


# %% [markdown]
# Check the table against the formula written as loops, with an odd width,
# and check that gradients reach the learned table only at the positions used.

# %%
import math

L, C = 50, 7
pe = sinusoidal_table(L, C)
for p in range(L):
    for j in range(C):
        w = 10000.0 ** (-(j - j % 2) / C)
        want = math.sin(p * w) if j % 2 == 0 else math.cos(p * w)
        assert abs(pe[p, j] - want) < 1e-6

x = Tensor(np.zeros((2, 5, C), dtype=np.float32))
assert np.allclose(SinusoidalPositionalEncoding(L, C)(x).data, pe[:5])

learned = LearnedPositionalEmbedding(8, C)
y = learned(Tensor(rng.standard_normal((3, 5, C)).astype(np.float32)))
y.sum().backward()
assert np.all(learned.weight.grad[:5] == 3) and np.all(learned.weight.grad[5:] == 0)

try:
    learned(Tensor(np.zeros((1, 9, C), dtype=np.float32)))
    raise AssertionError("9 positions must not fit a table of 8")
except ValueError as e:
    print(e)

# %% [markdown]
# Seen as an image, the sinusoidal table has fast stripes on the left and slow
# ones on the right: each position gets a distinct pattern, and nearby positions
# get similar ones. The dot product of two position vectors depends only on
# how far apart they are:

# %%
pe = sinusoidal_table(64, 32)
near = [float(pe[p] @ pe[p + 3]) for p in (0, 10, 40)]
far = [float(pe[p] @ pe[p + 20]) for p in (0, 10, 40)]
print("offset 3: ", np.round(near, 3), " offset 20:", np.round(far, 3))
assert np.allclose(near, near[0], atol=1e-4) and np.allclose(far, far[0], atol=1e-4)

# %% [markdown]
# ## 5. Systems: accumulating the gradient, and what the table costs
#
# The backward pass of a small GPT's token embedding: a batch of 32 sequences
# of 128 tokens, width 128, with the 65 characters of Tiny Shakespeare and with
# a 1,024-token BPE vocabulary. Four ways to add up the rows, timed here (the
# loop on a quarter of the batch, scaled up):

# %%
import time


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def one_hot_grad(ids, rows, num_rows):
    hot = np.zeros((num_rows, ids.size), dtype=rows.dtype)  # (V, N)
    hot[ids, np.arange(ids.size)] = 1.0
    return hot @ rows  # (V, C)


def add_at_grad(ids, rows, num_rows):
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    np.add.at(out, ids, rows)
    return out


def time_methods(V, N=32 * 128, C=128):
    """Seconds for each way of adding up N rows of width C over V ids."""
    some = rng.integers(0, V, size=N)
    g = rng.standard_normal((N, C)).astype(np.float32)
    ref = sum_rows_by_id(some, g, V)
    assert np.allclose(one_hot_grad(some, g, V), ref, atol=1e-3)
    assert np.allclose(add_at_grad(some, g, V), ref, atol=1e-3)
    quarter = N // 4
    return [
        4 * best_of(lambda: sum_rows_loop(some[:quarter], g[:quarter], V), 2),
        best_of(lambda: add_at_grad(some, g, V)),
        best_of(lambda: one_hot_grad(some, g, V)),
        best_of(lambda: sum_rows_by_id(some, g, V)),
    ]


print(f"{'vocab':>6}{'loop':>11}{'np.add.at':>11}{'one-hot @':>11}{'sorted':>11}")
for V in [65, 1024]:
    cells = time_methods(V)
    print(f"{V:>6}" + "".join(f"{t * 1e3:>9.2f}ms" for t in cells))

# %% [markdown]
# The one-hot product does `V x N x C` multiply-adds, nearly all of them with
# zero: its cost grows with the vocabulary, and for a thin matrix like
# `(65, 4096)` it also depends on how your BLAS splits the work between threads
# (on a busy machine, badly). `np.add.at` is correct at any size, and slow at
# every size. The sorted version's work depends on the
# number of ids, not on the vocabulary; `bench/text.py` compares it with
# PyTorch's embedding backward.
#
# **Memory.** The table is `V x C` float32 numbers, and its gradient is a dense
# array of the same size on every step, although a batch touches only the rows
# of the ids it holds. With Adam, two more arrays of that size. At GPT-2's
# 50,257 tokens and width 768:

# %%
for V, C in [(65, 128), (1024, 128), (50_257, 768)]:
    table = V * C * 4
    print(
        f"V={V:>6} C={C:>4}: table {table / 1e6:7.2f} MB, with gradient and "
        f"Adam moments {4 * table / 1e6:7.1f} MB"
    )
touched = np.unique(rng.integers(0, 1024, size=4096)).size
print(f"a batch of 4,096 random ids out of 1,024 touches {touched} distinct rows")

# %% [markdown]
# Frameworks offer *sparse* embedding gradients (only the touched rows) for
# large vocabularies; with a few thousand tokens, the dense gradient is cheap
# and keeps every optimizer simple.

"""Checks for module 11: Embedding and the positional encodings.

Oracles: a loop that adds gradient rows one position at a time, central finite
differences in float64 on a NumPy copy of the loss, and the sinusoid formula
written out element by element.
"""

import math

import numpy as np
import pytest
from tinytorch.nn.embedding import (
    Embedding,
    EmbeddingFunction,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_table,
    sum_rows_by_id,
)
from tinytorch.tensor import Tensor


def loop_sum_rows(ids, rows, num_rows):
    out = np.zeros((num_rows, rows.shape[1]), dtype=np.float64)
    for i, v in enumerate(ids):
        out[v] += rows[i]
    return out


def formula_table(max_len, dim, base=10000.0):
    table = np.zeros((max_len, dim))
    for p in range(max_len):
        for j in range(dim):
            angle = p / base ** ((j - j % 2) / dim)
            table[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


# -- the gradient of a lookup ----------------------------------------------


def test_repeated_ids_receive_their_whole_gradient():
    emb = Embedding(10, 4)
    out = emb(np.array([3, 3, 3, 7]))
    out.backward(np.ones((4, 4), dtype=np.float32))

    expected = np.zeros((10, 4), dtype=np.float32)
    expected[3], expected[7] = 3.0, 1.0
    assert np.array_equal(emb.weight.grad, expected)


@pytest.mark.parametrize(
    "num_rows,ids",
    [
        (65, np.random.default_rng(0).integers(0, 65, size=4096)),
        (1024, np.random.default_rng(1).integers(0, 1024, size=4096)),
        (50_000, np.random.default_rng(2).integers(0, 50_000, size=300)),
        (40_000, np.random.default_rng(3).integers(0, 40_000, size=300)),
        (100, np.full(777, 42)),
        (1000, np.random.default_rng(4).permutation(1000)),
        (7, np.array([6, 0, 6, 6, 1, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 2])),
        (3, np.array([1])),
    ],
)
def test_sum_rows_by_id_equals_a_loop(num_rows, ids):
    # Mixes ids seen once, a few times and far more often than any one pass.
    rows = np.random.default_rng(5).standard_normal((ids.size, 6)).astype(np.float32)
    got = sum_rows_by_id(ids, rows, num_rows)

    assert got.shape == (num_rows, 6) and got.dtype == np.float32
    assert np.allclose(got, loop_sum_rows(ids, rows, num_rows), atol=1e-4)


def test_sum_rows_by_id_of_nothing_is_zeros():
    got = sum_rows_by_id(np.zeros(0, dtype=np.int64), np.zeros((0, 3), np.float32), 4)
    assert np.array_equal(got, np.zeros((4, 3)))
    assert np.array_equal(
        sum_rows_by_id(np.array([2, 2]), np.ones((2, 3), np.float32), 4)[2], [2, 2, 2]
    )


def test_embedding_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    V, C = 6, 3
    ids = rng.integers(0, V, size=(2, 5))
    R = rng.standard_normal((2, 5, C))
    emb = Embedding(V, C)
    W = emb.weight.data.astype(np.float64)

    (emb(ids).tanh() * Tensor(R.astype(np.float32))).sum().backward()

    def loss(w):
        return float(np.sum(np.tanh(w[ids]) * R))

    numeric = np.zeros_like(W)
    eps = 1e-6
    for idx in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (loss(up) - loss(down)) / (2 * eps)
    assert np.allclose(emb.weight.grad, numeric, atol=1e-4)


# -- the lookup ------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4)])
def test_lookup_for_ids_of_any_shape(shape):
    emb = Embedding(11, 5)
    ids = np.random.default_rng(0).integers(0, 11, size=shape)
    out = emb(ids)

    assert out.shape == (*shape, 5) and out.dtype == np.float32
    assert np.array_equal(out.data, emb.weight.data[ids])
    out.sum().backward()
    assert emb.weight.grad.sum() == pytest.approx(5 * ids.size, rel=1e-6)


def test_lookup_takes_lists_arrays_and_tensors():
    emb = Embedding(8, 2)
    expected = emb.weight.data[[1, 7, 1]]
    for ids in ([1, 7, 1], np.array([1, 7, 1], dtype=np.int32), Tensor([1, 7, 1])):
        assert np.array_equal(emb(ids).data, expected)
    assert [name for name, _ in emb.named_parameters()] == ["weight"]
    assert emb.weight.shape == (8, 2) and emb.weight.dtype == np.float32


def test_out_of_range_ids_are_errors_naming_the_id_and_vocabulary():
    emb = Embedding(65, 4)
    assert emb(np.array([0, 64])).shape == (2, 4)
    with pytest.raises(ValueError, match=r"token id 65\b.*\b65\b"):
        emb(np.array([[1, 2], [65, 3]]))
    with pytest.raises(ValueError, match=r"token id -1\b.*\b65\b"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="integer"):
        emb(np.array([1.0, 2.0]))


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = Embedding(6, 3, padding_idx=0)
    assert np.array_equal(emb.weight.data[0], np.zeros(3))
    out = emb(np.array([[0, 1, 0], [2, 0, 1]]))
    (out * out + out).sum().backward()

    assert np.array_equal(emb.weight.grad[0], np.zeros(3))
    assert np.allclose(emb.weight.grad[1], 2 * (2 * emb.weight.data[1] + 1))
    assert np.allclose(emb.weight.grad[2], 2 * emb.weight.data[2] + 1)

    last = Embedding(6, 3, padding_idx=-1)
    assert last.padding_idx == 5
    last(np.array([5, 5, 4])).sum().backward()
    assert np.array_equal(last.weight.grad[5], np.zeros(3))
    assert np.array_equal(last.weight.grad[4], np.ones(3))
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(6, 3, padding_idx=6)


def test_function_returns_no_gradient_for_ids():
    w = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3), requires_grad=True)
    out = EmbeddingFunction.apply(w, np.array([[2, 2], [0, 3]]), None)
    assert out.shape == (2, 2, 3)
    out.backward(np.ones((2, 2, 3), dtype=np.float32))
    assert np.array_equal(w.grad[:, 0], [1, 0, 2, 1])


# -- positions -------------------------------------------------------------


@pytest.mark.parametrize("dim", [1, 2, 7, 16, 33])
def test_sinusoidal_table_matches_the_formula(dim):
    got = sinusoidal_table(40, dim)
    assert got.shape == (40, dim) and got.dtype == np.float32
    assert np.allclose(got, formula_table(40, dim), atol=1e-6)
    assert np.allclose(sinusoidal_table(5, dim, base=100.0), formula_table(5, dim, 100))


def test_sinusoidal_encoding_adds_the_table():
    rng = np.random.default_rng(0)
    enc = SinusoidalPositionalEncoding(16, 9)
    x = Tensor(rng.standard_normal((3, 10, 9)).astype(np.float32), requires_grad=True)
    y = enc(x)

    assert y.shape == (3, 10, 9)
    assert np.allclose(y.data, x.data + formula_table(10, 9), atol=1e-6)
    y.sum().backward()
    assert np.array_equal(x.grad, np.ones((3, 10, 9)))
    assert enc.parameters() == []
    unbatched = enc(Tensor(np.zeros((4, 9), dtype=np.float32)))
    assert np.allclose(unbatched.data, formula_table(4, 9), atol=1e-6)


def test_learned_positions_add_a_trained_row_per_position():
    rng = np.random.default_rng(1)
    pos = LearnedPositionalEmbedding(8, 4)
    assert [name for name, _ in pos.named_parameters()] == ["weight"]
    x = Tensor(rng.standard_normal((3, 5, 4)).astype(np.float32), requires_grad=True)
    y = pos(x)

    assert np.allclose(y.data, x.data + pos.weight.data[:5])
    y.sum().backward()
    assert np.array_equal(pos.weight.grad[:5], np.full((5, 4), 3.0))
    assert np.array_equal(pos.weight.grad[5:], np.zeros((3, 4)))
    assert np.array_equal(x.grad, np.ones((3, 5, 4)))


@pytest.mark.parametrize(
    "make", [SinusoidalPositionalEncoding, LearnedPositionalEmbedding]
)
def test_a_sequence_longer_than_the_table_is_an_error_saying_so(make):
    layer = make(8, 4)
    assert layer(Tensor(np.zeros((2, 8, 4), dtype=np.float32))).shape == (2, 8, 4)
    with pytest.raises(ValueError, match=r"\b9\b.*longer.*max_len=8"):
        layer(Tensor(np.zeros((2, 9, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 4\)"):
        layer(Tensor(np.zeros((2, 3, 5), dtype=np.float32)))

"""Checks for module 12: masks, scaled dot-product attention, multi-head attention.

Oracles: a per-query loop written here in float64 (independent of the module),
the module's own composed Tensor version for the fused backward, central
finite differences (`numgrad`), and causality probes (change a later position,
earlier outputs must not move).
"""

import math

import numpy as np
import pytest
from numgrad import check_gradients
from tinytorch import Tensor
from tinytorch.nn.attention import (
    MultiHeadAttention,
    attention_composed,
    attention_loop,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
)


def reference(q, k, v, mask=None):
    """Attention one query at a time, float64, allowed keys only; empty rows 0."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    *batch, T, hs = q.shape
    S = k.shape[-2]
    allowed = np.broadcast_to(
        np.ones((T, S), bool) if mask is None else np.asarray(mask), (*batch, T, S)
    )
    out = np.zeros((*batch, T, v.shape[-1]))
    for b in np.ndindex(*batch):
        for i in range(T):
            keys = [j for j in range(S) if allowed[b][i, j]]
            if not keys:
                continue
            scores = np.array([q[b][i] @ k[b][j] for j in keys]) / math.sqrt(hs)
            w = np.exp(scores - scores.max())
            w /= w.sum()
            out[b][i] = sum(wj * v[b][j] for wj, j in zip(w, keys, strict=True))
    return out


def random_qkv(shape_q, S=None, hv=None, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    *batch, T, hs = shape_q
    S = T if S is None else S
    hv = hs if hv is None else hv
    q = rng.standard_normal(shape_q) * scale
    k = rng.standard_normal((*batch, S, hs)) * scale
    v = rng.standard_normal((*batch, S, hv))
    return [a.astype(np.float32) for a in (q, k, v)]


def sdpa(q, k, v, **kw):
    return scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), **kw).data


# -- masks -----------------------------------------------------------------


def test_causal_mask_is_boolean_lower_triangle():
    m = causal_mask(6)
    assert m.dtype == bool and m.shape == (6, 6)
    for i in range(6):
        for j in range(6):
            assert m[i, j] == (j <= i)
    assert np.array_equal(causal_mask(3, 5), np.tri(3, 5, dtype=bool))


def test_mask_must_be_boolean():
    q, k, v = random_qkv((2, 4, 3))
    with pytest.raises(TypeError, match="boolean"):
        sdpa(q, k, v, mask=np.tri(4, dtype=np.float32))
    want = reference(q, k, v, np.tri(4, dtype=bool))
    np.testing.assert_allclose(
        sdpa(q, k, v, mask=np.tri(4, dtype=bool)), want, atol=1e-5
    )


# -- forward against the loop reference ---------------------------------------


@pytest.mark.parametrize(
    "shape, S, hv",
    [((5, 4), None, None), ((2, 7, 8), None, None), ((2, 3, 6, 4), 9, 5)],
)
def test_attention_matches_loop_reference(shape, S, hv):
    q, k, v = random_qkv(shape, S, hv, seed=1)
    want = reference(q, k, v)
    np.testing.assert_allclose(sdpa(q, k, v), want, atol=1e-5)
    np.testing.assert_allclose(attention_loop(q, k, v), want, atol=1e-5)


def test_causal_and_custom_masks_match_reference():
    q, k, v = random_qkv((2, 3, 6, 4), seed=2)
    np.testing.assert_allclose(
        sdpa(q, k, v, is_causal=True), reference(q, k, v, causal_mask(6)), atol=1e-5
    )
    mask = np.random.default_rng(3).random((2, 1, 6, 6)) < 0.6  # per batch
    want = reference(q, k, v, mask)
    np.testing.assert_allclose(sdpa(q, k, v, mask=mask), want, atol=1e-5)
    np.testing.assert_allclose(attention_loop(q, k, v, mask), want, atol=1e-5)
    both = sdpa(q, k, v, mask=mask, is_causal=True)
    np.testing.assert_allclose(
        both, reference(q, k, v, mask & causal_mask(6)), atol=1e-5
    )


def test_rows_of_weights_sum_to_one_and_masked_weights_are_zero():
    q, k, _ = random_qkv((3, 8, 4), seed=4)
    mask = np.random.default_rng(5).random((3, 8, 8)) < 0.5
    mask[:, :, 0] = True
    w = attention_weights(q, k, mask)
    assert w.shape == (3, 8, 8)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-6)
    assert np.all(w[~mask] == 0)
    wc = attention_weights(q, k, causal_mask(8))
    np.testing.assert_allclose(wc.sum(axis=-1), 1.0, atol=1e-6)
    assert np.all(np.triu(wc, 1) == 0)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = random_qkv((2, 4, 3), seed=6)
    mask = np.tri(4, dtype=bool)
    mask[2] = False  # query 2 may attend to nothing
    xs = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    out = scaled_dot_product_attention(*xs, mask=mask)
    assert np.all(np.isfinite(out.data))
    assert np.all(out.data[:, 2] == 0)
    np.testing.assert_allclose(out.data, reference(q, k, v, mask), atol=1e-5)
    out.backward(np.ones(out.shape, dtype=np.float32))
    for x in xs:
        assert np.all(np.isfinite(x.grad))
    assert np.all(xs[0].grad[:, 2] == 0)
    w = attention_weights(q, k, mask)
    assert np.all(w[:, 2] == 0) and np.all(np.isfinite(w))
    comp = attention_composed(*[Tensor(a) for a in (q, k, v)], mask)
    assert np.all(comp.data[:, 2] == 0) and np.all(np.isfinite(comp.data))


@pytest.mark.parametrize("scale", [30.0, 1e3, 1e5])
def test_stable_at_large_magnitudes(scale):
    q, k, v = random_qkv((2, 5, 4), seed=7, scale=scale)
    out = sdpa(q, k, v, is_causal=True)
    assert np.all(np.isfinite(out))
    want = reference(q, k, v, causal_mask(5))
    np.testing.assert_allclose(out, want, atol=1e-4 * (1 + np.abs(want).max()))


def test_masked_scores_never_leak_even_when_huge():
    q, k, v = random_qkv((1, 4, 2), seed=8)
    q[:] = 1.0
    k[0, 3] = 1e18  # the last key scores ~1e18 against every query
    v[0, 3] = 1000.0
    out = sdpa(q, k, v, is_causal=True)  # only query 3 may see key 3
    want = reference(q, k, v, causal_mask(4))
    np.testing.assert_allclose(out[0, :3], want[0, :3], atol=1e-5)
    assert np.all(np.abs(out[0, :3]) < 10)
    np.testing.assert_allclose(out[0, 3], 1000.0)


def test_shape_errors_name_the_shapes():
    q, k, v = random_qkv((2, 4, 3))
    with pytest.raises(ValueError, match=r"\(2, 4, 5\)"):
        sdpa(q, np.zeros((2, 4, 5), np.float32), v)
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        sdpa(q, k, v, mask=np.ones((3, 4), dtype=bool))
    assert sdpa(q, k[:, :2], v[:, :2]).shape == (2, 4, 3)  # fewer keys than queries


# -- the fused backward ---------------------------------------------------------


def test_fused_backward_matches_composed_version():
    q, k, v = random_qkv((2, 3, 6, 4), seed=9)
    g = np.random.default_rng(10).standard_normal((2, 3, 6, 4)).astype(np.float32)
    mask = np.random.default_rng(11).random((6, 6)) < 0.7
    mask[3] = False
    grads = []
    for fn in (scaled_dot_product_attention, attention_composed):
        xs = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        out = fn(*xs, mask & causal_mask(6))
        out.backward(g)
        grads.append([x.grad for x in xs])
    for name, fused, composed in zip("qkv", *grads, strict=True):
        np.testing.assert_allclose(fused, composed, atol=1e-5, err_msg=f"d{name}")


@pytest.mark.parametrize("mask", [None, "causal", "random"])
def test_fused_backward_matches_finite_differences(mask):
    q, k, v = random_qkv((2, 5, 3), S=5, hv=4, seed=12)
    if mask == "causal":
        mask = causal_mask(5)
    elif mask == "random":
        mask = np.random.default_rng(13).random((2, 5, 5)) < 0.5
        mask[:, 1] = False
    check_gradients(
        lambda a, b, c: scaled_dot_product_attention(a, b, c, mask=mask), q, k, v
    )


def test_sequences_longer_than_one_query_tile():
    # 70 queries: several tiles of queries, each seeing only some keys
    q, k, v = random_qkv((2, 70, 4), seed=30)
    g = np.random.default_rng(31).standard_normal((2, 70, 4)).astype(np.float32)
    rng = np.random.default_rng(32)
    late = np.zeros((70, 70), bool)
    late[:40, :5] = True  # the first queries see only the first keys
    empty_tail = rng.random((2, 70, 70)) < 0.5
    empty_tail[:, 33:] = False  # whole tiles of queries see nothing
    for mask in (causal_mask(70), late, empty_tail, causal_mask(70, 75)[:, 5:]):
        np.testing.assert_allclose(
            sdpa(q, k, v, mask=mask), reference(q, k, v, mask), atol=1e-5
        )
        grads = []
        for fn in (scaled_dot_product_attention, attention_composed):
            xs = [Tensor(a, requires_grad=True) for a in (q, k, v)]
            fn(*xs, mask).backward(g)
            grads.append([x.grad for x in xs])
        for name, fused, composed in zip("qkv", *grads, strict=True):
            np.testing.assert_allclose(fused, composed, atol=1e-4, err_msg=f"d{name}")


def test_backward_across_query_tiles_matches_finite_differences():
    q, k, v = random_qkv((1, 40, 2), seed=33)

    def fn(a, b, c):
        rng = np.random.default_rng(34)  # the same keep-mask on every call
        return scaled_dot_product_attention(
            a, b, c, is_causal=True, dropout_p=0.2, rng=rng
        )

    check_gradients(fn, q, k, v)


def test_composed_backward_matches_finite_differences():
    q, k, v = random_qkv((2, 4, 3), seed=14)
    check_gradients(
        lambda a, b, c: attention_composed(a, b, c, causal_mask(4)), q, k, v
    )


def test_dropout_on_weights_has_a_consistent_backward():
    q, k, v = random_qkv((2, 5, 3), seed=15)

    def fn(a, b, c):
        rng = np.random.default_rng(16)  # the same keep-mask on every call
        return scaled_dot_product_attention(
            a, b, c, is_causal=True, dropout_p=0.3, rng=rng
        )

    out = check_gradients(fn, q, k, v)
    assert not np.allclose(out.data, reference(q, k, v, causal_mask(5)))


# -- causality end to end -------------------------------------------------------


def test_sdpa_is_causal_end_to_end():
    q, k, v = random_qkv((2, 2, 7, 4), seed=17)
    base = sdpa(q, k, v, is_causal=True)
    for t in range(6):
        q2, k2, v2 = q.copy(), k.copy(), v.copy()
        for a in (q2, k2, v2):
            a[..., t + 1, :] += 3.0
        moved = sdpa(q2, k2, v2, is_causal=True)
        np.testing.assert_array_equal(moved[..., : t + 1, :], base[..., : t + 1, :])
        assert not np.allclose(moved[..., t + 1, :], base[..., t + 1, :])


def test_multi_head_attention_is_causal_end_to_end():
    np.random.seed(0)
    mha = MultiHeadAttention(12, 3)
    x = np.random.default_rng(18).standard_normal((2, 6, 12)).astype(np.float32)
    base = mha(Tensor(x), is_causal=True).data
    for t in range(5):
        x2 = x.copy()
        x2[:, t + 1] = np.random.default_rng(t).standard_normal((2, 12))
        moved = mha(Tensor(x2), is_causal=True).data
        np.testing.assert_allclose(moved[:, : t + 1], base[:, : t + 1], atol=1e-6)
        assert not np.allclose(moved[:, t + 1], base[:, t + 1])


def test_causal_gradients_do_not_flow_backwards_in_time():
    np.random.seed(1)
    mha = MultiHeadAttention(8, 2)
    x = Tensor(np.random.default_rng(19).standard_normal((1, 5, 8)), requires_grad=True)
    out = mha(x, is_causal=True)
    g = np.zeros(out.shape, dtype=np.float32)
    g[0, 2] = 1.0  # the loss depends on position 2 only
    out.backward(g)
    assert np.all(x.grad[0, 3:] == 0)
    assert np.any(x.grad[0, :3] != 0)


# -- multi-head attention -------------------------------------------------------


def test_multi_head_attention_matches_per_head_reference():
    np.random.seed(2)
    C, nh = 12, 3
    hs = C // nh
    mha = MultiHeadAttention(C, nh)
    x = np.random.default_rng(20).standard_normal((2, 5, C))
    Wqkv, bqkv = mha.qkv.weight.data, mha.qkv.bias.data
    Wo, bo = mha.proj.weight.data, mha.proj.bias.data
    qkv = x @ Wqkv.T + bqkv  # (B, T, 3C): queries, keys, values in that order
    heads = []
    for h in range(nh):
        cols = slice(h * hs, (h + 1) * hs)
        q, k, v = (qkv[..., i * C : (i + 1) * C][..., cols] for i in range(3))
        heads.append(reference(q, k, v, causal_mask(5)))  # (B, T, hs)
    want = np.concatenate(heads, axis=-1) @ Wo.T + bo
    got = mha(Tensor(x.astype(np.float32)), is_causal=True).data
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_multi_head_attention_has_one_fused_qkv_projection():
    mha = MultiHeadAttention(16, 4)
    assert mha.qkv.weight.shape == (48, 16)
    n = sum(p.data.size for p in mha.parameters())
    assert n == 4 * 16 * 16 + 4 * 16
    no_bias = MultiHeadAttention(16, 4, bias=False)
    assert sum(p.data.size for p in no_bias.parameters()) == 4 * 16 * 16
    x = Tensor(np.random.default_rng(23).standard_normal((2, 3, 16)))
    assert no_bias(x).shape == (2, 3, 16)


def test_multi_head_attention_gradients_reach_every_parameter():
    np.random.seed(3)
    mha = MultiHeadAttention(8, 2)
    x = Tensor(np.random.default_rng(21).standard_normal((2, 4, 8)), requires_grad=True)
    (mha(x, is_causal=True) ** 2).sum().backward()
    for name, p in mha.named_parameters():
        assert p.grad is not None and np.any(p.grad != 0), name
    assert x.grad.shape == x.shape


def test_indivisible_heads_are_a_clear_error():
    with pytest.raises(ValueError, match="10.*4|4.*10"):
        MultiHeadAttention(10, 4)
    ok = MultiHeadAttention(12, 4)
    assert ok.head_dim == 3
    assert ok(Tensor(np.ones((1, 2, 12), dtype=np.float32))).shape == (1, 2, 12)


def test_dropout_only_in_training_mode():
    np.random.seed(4)
    mha = MultiHeadAttention(8, 2, dropout=0.5)
    x = Tensor(np.random.default_rng(22).standard_normal((2, 6, 8)))
    mha.eval()
    a, b = mha(x, is_causal=True).data, mha(x, is_causal=True).data
    np.testing.assert_array_equal(a, b)
    mha.train()
    c = mha(x, is_causal=True).data
    assert not np.allclose(a, c)


def test_packed_form_matches_separate_q_k_v():
    q, k, v = random_qkv((2, 2, 5, 3), seed=24)
    packed = Tensor(np.stack([q, k, v]), requires_grad=True)
    out = scaled_dot_product_attention(packed, None, None, is_causal=True)
    np.testing.assert_allclose(out.data, reference(q, k, v, causal_mask(5)), atol=1e-5)
    check_gradients(
        lambda p: scaled_dot_product_attention(p, None, None, is_causal=True),
        np.stack([q, k, v]),
    )

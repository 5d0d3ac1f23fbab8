"""Checks for module 13: MLP, pre-norm transformer block, GPT and generation.

Oracles: NumPy recomputations from the modules' own weights, the parameter
count formula, causality probes, forward logits for every generation step
(greedy decoding replayed here), sampling frequencies against the softmax, a
tied model against its untied copy, and memorising one fixed batch.
"""

import math

import numpy as np
import pytest
import tinytorch.nn.functional as F
import tinytorch.optim as optim
from tinytorch import Tensor
from tinytorch.models.gpt import GPT, MLP, TransformerBlock, sample_token


def small_gpt(seed=0, **kw):
    np.random.seed(seed)
    cfg = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    return GPT(**cfg)


def ids(shape, V=11, seed=0):
    return np.random.default_rng(seed).integers(0, V, shape)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def params_formula(V, T_max, L, C, tied=True):
    per_block = 12 * C * C + 13 * C
    return V * C + T_max * C + L * per_block + 2 * C + (0 if tied else V * C)


# -- MLP and block ------------------------------------------------------------


def test_mlp_matches_numpy():
    np.random.seed(0)
    mlp = MLP(6)
    x = np.random.default_rng(1).standard_normal((2, 3, 6)).astype(np.float32)
    assert mlp.fc.weight.shape == (24, 6) and mlp.proj.weight.shape == (6, 24)
    h = x @ mlp.fc.weight.data.T + mlp.fc.bias.data
    h = F.gelu(Tensor(h)).data
    want = h @ mlp.proj.weight.data.T + mlp.proj.bias.data
    np.testing.assert_allclose(mlp(Tensor(x)).data, want, atol=1e-5)


def test_block_is_pre_norm_with_residuals():
    np.random.seed(1)
    block = TransformerBlock(8, 2)
    x = Tensor(np.random.default_rng(2).standard_normal((2, 5, 8)).astype(np.float32))
    h = x.data + block.attn(block.ln1(x), is_causal=True).data
    want = h + block.mlp(block.ln2(Tensor(h))).data
    np.testing.assert_allclose(block(x).data, want, atol=1e-5)
    for lin in (block.attn.proj, block.mlp.proj):  # silence both branches
        lin.weight.data[...] = 0.0
        lin.bias.data[...] = 0.0
    np.testing.assert_allclose(block(x).data, x.data, atol=1e-6)


def test_block_is_causal():
    np.random.seed(2)
    block = TransformerBlock(8, 4)
    x = np.random.default_rng(3).standard_normal((1, 6, 8)).astype(np.float32)
    base = block(Tensor(x)).data
    x[:, 4] += 1.0
    moved = block(Tensor(x)).data
    np.testing.assert_allclose(moved[:, :4], base[:, :4], atol=1e-6)
    assert not np.allclose(moved[:, 4], base[:, 4])


# -- GPT -----------------------------------------------------------------------


def test_gpt_shapes_and_loss_is_cross_entropy_of_its_logits():
    gpt = small_gpt()
    x, y = ids((3, 8), seed=1), ids((3, 8), seed=2)
    logits, loss = gpt(x, y)
    assert logits.shape == (3, 8, 11)
    p = softmax(logits.data.astype(np.float64))
    want = -np.log(p[np.arange(3)[:, None], np.arange(8), y]).mean()
    assert abs(loss.item() - want) < 1e-5
    logits2, none = gpt(x)
    assert none is None
    np.testing.assert_allclose(logits2.data, logits.data)


def test_initial_loss_is_about_log_vocab():
    gpt = small_gpt(vocab_size=50, n_embd=32)
    _, loss = gpt(ids((8, 8), V=50), ids((8, 8), V=50, seed=3))
    assert abs(loss.item() - math.log(50)) < 0.15


def test_initialisation_suits_training():
    gpt = small_gpt(n_layer=4, n_embd=64, vocab_size=40)
    for name, p in gpt.named_parameters():
        if name.endswith("bias"):
            assert np.all(p.data == 0), name
        elif name.endswith("proj.weight"):
            assert abs(p.data.std() - 0.02 / math.sqrt(8)) < 0.002, name
        elif p.data.ndim == 2:
            assert abs(p.data.std() - 0.02) < 0.002, name


def test_gpt_is_causal_end_to_end():
    gpt = small_gpt()
    x = ids((2, 8), seed=4)
    base = gpt(x)[0].data
    for t in range(7):
        x2 = x.copy()
        x2[:, t + 1] = (x2[:, t + 1] + 1) % 11
        moved = gpt(x2)[0].data
        np.testing.assert_allclose(moved[:, : t + 1], base[:, : t + 1], atol=1e-5)
        assert not np.allclose(moved[:, t + 1], base[:, t + 1])


@pytest.mark.parametrize("tied", [True, False])
def test_parameter_count_matches_formula(tied):
    gpt = small_gpt(tie_weights=tied)
    distinct = {id(p): p.data.size for p in gpt.parameters()}
    assert sum(distinct.values()) == params_formula(11, 8, 2, 16, tied)
    assert gpt.num_params() == params_formula(11, 8, 2, 16, tied)
    big = GPT(65, 64, 4, 4, 128)
    assert big.num_params() == params_formula(65, 64, 4, 128)


def test_tied_weight_gets_both_gradients():
    tied = small_gpt(seed=5)
    untied = small_gpt(seed=5, tie_weights=False)
    untied.load_state_dict(tied.state_dict())
    np.testing.assert_array_equal(untied.head.weight.data, tied.wte.weight.data)
    x, y = ids((2, 8), seed=6), ids((2, 8), seed=7)
    for m in (tied, untied):
        m(x, y)[1].backward()
    assert tied.head.weight is tied.wte.weight
    want = untied.wte.weight.grad + untied.head.weight.grad
    np.testing.assert_allclose(tied.wte.weight.grad, want, atol=1e-6)


def test_too_long_sequence_is_a_clear_error():
    gpt = small_gpt()
    with pytest.raises(ValueError, match="block_size"):
        gpt(ids((1, 9)))


# -- generation ------------------------------------------------------------------


def test_first_generation_step_gives_forward_logits():
    gpt = small_gpt(seed=8)
    prompt = ids((2, 5), seed=9)
    want = gpt(prompt)[0].data[:, -1]
    np.testing.assert_allclose(gpt.next_token_logits(prompt), want, atol=1e-6)
    out = gpt.generate(prompt, 1, temperature=0)
    np.testing.assert_array_equal(out[:, :5], prompt)
    np.testing.assert_array_equal(out[:, 5], want.argmax(axis=-1))


def test_greedy_generation_follows_forward_at_every_step():
    gpt = small_gpt(seed=10)
    seq = ids((1, 3), seed=11)
    out = gpt.generate(seq, 10, temperature=0)
    for _ in range(10):  # replay: forward on the (cropped) sequence, take argmax
        nxt = gpt(seq[:, -8:])[0].data[:, -1].argmax(axis=-1)
        seq = np.concatenate([seq, nxt[:, None]], axis=1)
    np.testing.assert_array_equal(out, seq)


def test_prompt_longer_than_block_size_is_cropped():
    gpt = small_gpt(seed=12)
    prompt = ids((2, 20), seed=13)
    out = gpt.generate(prompt, 5, temperature=0)
    assert out.shape == (2, 25)
    np.testing.assert_array_equal(out[:, :20], prompt)
    cropped = gpt.generate(prompt[:, -8:], 5, temperature=0)
    np.testing.assert_array_equal(out[:, 20:], cropped[:, 8:])
    one = gpt.generate(prompt[0], 3, rng=0)  # a single sequence (T,)
    assert one.shape == (23,)


def test_sampling_follows_the_softmax_of_forward_logits():
    gpt = small_gpt(seed=14, vocab_size=5)
    prompt = ids((1, 4), V=5, seed=15)
    p = softmax(gpt(prompt)[0].data[0, -1].astype(np.float64))
    n = 6000
    first = gpt.generate(np.repeat(prompt, n, axis=0), 1, rng=16)[:, -1]
    freq = np.bincount(first, minlength=5) / n
    tolerance = 4 * np.sqrt(p * (1 - p) / n) + 1e-3  # four standard errors
    assert np.all(np.abs(freq - p) <= tolerance), (freq, p)


def test_temperature_and_top_k():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]])).repeat(4000, axis=0)
    cold = sample_token(logits, temperature=0.5, rng=0)
    p_cold = softmax(np.log([0.5, 0.3, 0.15, 0.05]) / 0.5)
    freq = np.bincount(cold, minlength=4) / 4000
    np.testing.assert_allclose(freq, p_cold, atol=0.03)
    top2 = sample_token(logits, top_k=2, rng=1)
    assert set(np.unique(top2)) == {0, 1}
    assert abs((top2 == 0).mean() - 0.5 / 0.8) < 0.03
    assert np.all(sample_token(logits[:3], temperature=0) == 0)
    # a tiny temperature is nearly greedy, not NaN: every draw is the largest
    assert np.all(sample_token(logits[:50], temperature=1e-300, rng=2) == 0)


def test_generate_leaves_mode_and_graph_alone():
    gpt = small_gpt(seed=17, dropout=0.1)
    gpt.train()
    gpt.generate(ids((1, 3)), 2, rng=0)
    assert gpt.training
    assert all(p.grad is None for p in gpt.parameters())


# -- learning ----------------------------------------------------------------------


def test_memorises_one_fixed_batch():
    gpt = small_gpt(seed=18, vocab_size=16, block_size=16, n_embd=32)
    opt = optim.AdamW(gpt.parameters(), lr=3e-3, weight_decay=0.0)
    batch = ids((4, 17), V=16, seed=19)
    x, y = batch[:, :-1], batch[:, 1:]
    first = None
    for _ in range(200):
        _, loss = gpt(x, y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 2.0
    assert loss.item() < 0.1, loss.item()

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
# # Module 13: Transformers
#
# Everything a GPT needs now exists: token ids (module 10), embeddings
# (module 11), causal multi-head attention (module 12), and from the
# foundation `Linear`, `LayerNorm`, `GELU`, `Dropout` and the cross-entropy
# loss. This module assembles them:
#
# 1. an `MLP`: the per-position feed-forward network;
# 2. a pre-norm `TransformerBlock`: attention and MLP, each wrapped in a
#    residual connection with a layer norm in front;
# 3. `GPT`: embeddings, a stack of blocks, a final norm and a head that turns
#    each position's vector into scores over the vocabulary; with an
#    initialisation that trains well, and `generate` to sample text.
#
# The systems section counts parameters and FLOPs per token and measures one
# training step.

# %%
#| default_exp models.gpt

# %% [markdown]
# ## 1. Layer norm, from the foundation
#
# A deep stack of blocks only trains if the scale of the signal stays under
# control. `nn.LayerNorm(C)` normalises each position's vector to mean 0 and
# variance 1 over its `C` features, then applies a learnt scale and shift:
#
# $$y = \gamma \cdot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta$$
#
# Unlike batch norm it looks at one position at a time, so it behaves the same
# in training and generation and for any batch size. A quick check against
# NumPy:

# %%
import numpy as np
import tinytorch.nn as nn
from tinytorch import Tensor

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 5, 8)).astype(np.float32) * 3 + 1
ln = nn.LayerNorm(8)
mu = x.mean(-1, keepdims=True)
var = x.var(-1, keepdims=True)
assert np.allclose(ln(Tensor(x)).data, (x - mu) / np.sqrt(var + 1e-5), atol=1e-5)

# %% [markdown]
# ## 2. The MLP
#
# Attention mixes information *across* positions; the MLP then processes each
# position on its own: widen to `4C`, apply GELU, project back to `C`.
# GELU, `x * Φ(x)`, is a smooth ReLU that GPT-2 made the default in
# transformers.
#
# **Exercise.** Write `MLP.__init__` (layers `fc`, `act`, `proj`, `drop`) and
# `MLP.forward`.

# %%
#| export
"""A GPT: pre-norm transformer blocks over token and position embeddings.

GPT(vocab_size, block_size, n_layer, n_head, n_embd, dropout) maps token ids
(B, T) to next-token logits (B, T, vocab_size) and, given targets, the mean
cross-entropy loss; `generate` samples a continuation one token at a time.
Follows the GPT-2 layout (pre-norm blocks, GELU MLP, tied embeddings).
"""

import math

import numpy as np
import tinytorch.nn.functional as F
from tinytorch.nn.attention import MultiHeadAttention
from tinytorch.nn.embedding import Embedding, LearnedPositionalEmbedding
from tinytorch.nn.modules import GELU, Dropout, LayerNorm, Linear, Module, ModuleList
from tinytorch.tensor import Tensor, no_grad


class MLP(Module):
    """Position-wise feed-forward: Linear(C, 4C), GELU, Linear(4C, C), dropout."""

    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        ### BEGIN SOLUTION
        self.fc = Linear(n_embd, 4 * n_embd)
        self.act = GELU()
        self.proj = Linear(4 * n_embd, n_embd)
        self.drop = Dropout(dropout)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.drop(self.proj(self.act(self.fc(x))))  # (B, T, C)
        ### END SOLUTION


# %%
mlp = MLP(8)
y = mlp(Tensor(x))
assert y.shape == x.shape
h = x @ mlp.fc.weight.data.T + mlp.fc.bias.data
h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))
h_exact = nn.GELU()(Tensor(x @ mlp.fc.weight.data.T + mlp.fc.bias.data)).data
assert np.allclose(h_exact, h, atol=1e-3)  # GELU, in either of its usual forms
reference = h_exact @ mlp.proj.weight.data.T + mlp.proj.bias.data
assert np.allclose(y.data, reference, atol=1e-5)

# %% [markdown]
# ## 3. The transformer block
#
# A block is two sub-layers, each added to a *residual stream*:
#
# ```
# x = x + attention(layer_norm_1(x))     # look at earlier positions
# x = x + mlp(layer_norm_2(x))           # think about what was seen
# ```
#
# This is the *pre-norm* arrangement (GPT-2 and later): the norms sit inside
# the branches, and the stream itself is never normalised, so at
# initialisation every block is close to the identity and gradients reach the
# first layers through the additions undisturbed. The original 2017
# transformer normalised after each addition (post-norm), which needs a
# careful warm-up to train at depth.
#
# The attention is causal: position `t` only sees positions `0..t`.
#
# **Exercise.** Write `TransformerBlock.__init__` (`ln1`, `attn`, `ln2`,
# `mlp`) and `forward`.


# %%
#| export
class TransformerBlock(Module):
    """Pre-norm block: x + attn(ln1(x)), then x + mlp(ln2(x)); causal."""

    def __init__(self, n_embd, n_head, dropout=0.0):
        super().__init__()
        ### BEGIN SOLUTION
        self.ln1 = LayerNorm(n_embd)
        self.attn = MultiHeadAttention(n_embd, n_head, dropout=dropout)
        self.ln2 = LayerNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = x + self.attn(self.ln1(x), is_causal=True)  # (B, T, C)
        return x + self.mlp(self.ln2(x))  # (B, T, C)
        ### END SOLUTION


# %%
block = TransformerBlock(8, 2)
y1 = block(Tensor(x)).data
x_changed = x.copy()
x_changed[:, 3] = 0.0
y2 = block(Tensor(x_changed)).data
assert np.allclose(y1[:, :3], y2[:, :3], atol=1e-6)  # positions 0-2 never see 3
assert not np.allclose(y1[:, 3:], y2[:, 3:])

# %% [markdown]
# ## 4. GPT
#
# ```
# idx (B, T) ─ token embedding (B, T, C) ─┐
#              position embedding (T, C) ─┴─ + ─ dropout ─ n_layer blocks
#   ─ final layer norm ─ head Linear(C, V) ─ logits (B, T, V)
# ```
#
# The logits at position `t` score every possible token `t + 1`; with targets
# (the input shifted left by one) the loss is the mean cross-entropy over all
# `B * T` positions, so one sequence of `T` tokens gives `T` training examples.
#
# Three details make it train well.
#
# - **Initialisation.** Every weight matrix and embedding is drawn from a normal
#   distribution with standard deviation 0.02, biases start at zero. The
#   projections that write into the residual stream (`attn.proj`, `mlp.proj`)
#   get `0.02 / sqrt(2 * n_layer)`: each block adds two of them to the stream,
#   and this keeps the stream's variance from growing with depth.
# - **Weight tying.** The head maps vectors to token scores and the token
#   embedding maps tokens to vectors; sharing one `(V, C)` matrix between them
#   saves `V * C` parameters and usually helps small models. It is on by
#   default (`tie_weights=False` to separate them).
# - **The loss at initialisation** should be about `ln V`: the model knows
#   nothing yet, so every token is about equally likely. A much larger first
#   loss means a bad initialisation.
#
# **Exercise.** Write `GPT.__init__` (modules `wte`, `wpe`, `drop`, `blocks`,
# `ln_f`, `head`, then the initialisation) and `GPT.forward`.


# %%
#| export
class GPT(Module):
    """A decoder-only transformer language model.

    forward(idx (B, T), targets (B, T) or None) -> (logits (B, T, V), loss).
    T may not exceed `block_size`; `generate` crops longer contexts itself.
    """

    def __init__(
        self, vocab_size, block_size, n_layer, n_head, n_embd, dropout=0.0,
        tie_weights=True,
    ):  # fmt: skip
        super().__init__()
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        ### BEGIN SOLUTION
        self.wte = Embedding(vocab_size, n_embd)
        self.wpe = LearnedPositionalEmbedding(block_size, n_embd)
        self.drop = Dropout(dropout)
        self.blocks = ModuleList(
            [TransformerBlock(n_embd, n_head, dropout) for _ in range(n_layer)]
        )
        self.ln_f = LayerNorm(n_embd)
        self.head = Linear(n_embd, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.wte.weight
        self._init_weights()
        ### END SOLUTION

    def _init_weights(self):
        ### BEGIN SOLUTION
        residual_std = 0.02 / math.sqrt(2 * self.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.data[...] = 0.0
            elif p.data.ndim == 2:
                std = residual_std if name.endswith("proj.weight") else 0.02
                p.data[...] = np.random.normal(0.0, std, p.data.shape)
        ### END SOLUTION

    def forward(self, idx, targets=None):
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if idx.ndim != 2:
            raise ValueError(
                f"GPT expects token ids of shape (B, T), got {idx.shape}; "
                "for one sequence pass ids[None]"
            )
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(
                f"sequence of {T} tokens is longer than block_size "
                f"{self.block_size}; crop it to the last {self.block_size} tokens "
                "(generate does this for you)"
            )
        ### BEGIN SOLUTION
        x = self.wpe(self.wte(idx))  # (B, T, C): tokens plus positions
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
        V = self.vocab_size
        loss = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))
        return logits, loss
        ### END SOLUTION

    def num_params(self):
        """Distinct trainable numbers (a tied matrix counts once)."""
        seen = {id(p): p.data.size for p in self.parameters()}
        return sum(seen.values())

    def next_token_logits(self, idx):
        """Logits (B, V) for the token after `idx` (B, T), cropping to block_size."""
        ### BEGIN SOLUTION
        idx = np.asarray(idx)[:, -self.block_size :]  # (B, <= block_size)
        logits, _ = self(idx)
        return logits.data[:, -1, :]  # (B, V)
        ### END SOLUTION

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, rng=None):
        """Sample `max_new_tokens` tokens after `idx` ((B, T) or (T,) ids).

        temperature 0 picks the most likely token; top_k keeps only the k most
        likely; `rng` is a NumPy Generator or a seed. Returns ids, same rank.
        """
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        idx = np.asarray(idx, dtype=np.int64)
        single = idx.ndim == 1
        idx = idx[None] if single else idx
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                ### BEGIN SOLUTION
                for _ in range(max_new_tokens):
                    logits = self.next_token_logits(idx)  # (B, V)
                    nxt = sample_token(logits, temperature, top_k, rng)  # (B,)
                    idx = np.concatenate([idx, nxt[:, None]], axis=1)
                ### END SOLUTION
        finally:
            self.train(was_training)
        return idx[0] if single else idx


def sample_token(logits, temperature=1.0, top_k=None, rng=None):
    """One token id per row of `logits` (B, V), drawn from its softmax."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    logits = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return logits.argmax(axis=-1)
    ### BEGIN SOLUTION
    # shift before dividing: a tiny temperature then sends the others to
    # -inf, never the largest to +inf (which would make every probability NaN)
    with np.errstate(over="ignore"):  # -inf is the intended result
        logits = (logits - logits.max(axis=-1, keepdims=True)) / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.partition(logits, -top_k, axis=-1)[:, -top_k, None]  # (B, 1)
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits)  # the largest is exp(0) = 1
    cdf = np.cumsum(probs, axis=-1)  # (B, V)
    u = rng.random((logits.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), logits.shape[-1] - 1)
    ### END SOLUTION


# %% [markdown]
# Checks: the loss at initialisation is close to `ln V`, causality holds for
# the whole model, and the head shares its matrix with the token embedding.

# %%
V, BLOCK = 20, 16
gpt = GPT(V, BLOCK, n_layer=2, n_head=2, n_embd=16)
ids = rng.integers(0, V, (4, BLOCK))
logits, loss = gpt(ids, np.roll(ids, -1, axis=1))
assert logits.shape == (4, BLOCK, V)
assert abs(loss.item() - np.log(V)) < 0.1, loss.item()
assert gpt.head.weight is gpt.wte.weight

changed = ids.copy()
changed[:, 9] = (changed[:, 9] + 1) % V
logits2, _ = gpt(changed)
assert np.allclose(logits.data[:, :9], logits2.data[:, :9], atol=1e-5)
assert not np.allclose(logits.data[:, 9:], logits2.data[:, 9:])
print(f"initial loss {loss.item():.3f} vs ln V = {np.log(V):.3f}")

# %% [markdown]
# ## 5. Generation
#
# `generate` repeats one step: run the model on the sequence so far, take the
# logits at the last position, turn them into probabilities, draw a token,
# append it. Three knobs shape the draw.
#
# - **Cropping.** The position table has `block_size` rows, so the model sees
#   at most the last `block_size` tokens. Longer prompts are cropped.
# - **Temperature.** Logits are divided by it before the softmax. Below 1 the
#   distribution sharpens (safer, more repetitive text); above 1 it flattens;
#   0 means always take the most likely token.
# - **top-k.** Only the `k` most likely tokens may be drawn; the long tail of
#   unlikely tokens, which together carry real probability, is cut off.
#
# The draw itself is vectorised over the batch: with the cumulative sum of
# the unnormalised probabilities and one uniform number `u` per row scaled to
# that row's total, the chosen token is the number of cumulative values below
# `u`.
#
# This simple loop recomputes the whole context for every new token. Real
# systems keep each layer's keys and values from earlier steps (a *KV cache*)
# and compute only the new position.
#
# **Exercise.** Write `GPT.next_token_logits`, the loop in `GPT.generate`, and
# `sample_token`.

# %%
prompt = ids[:1, :5]
first = gpt.next_token_logits(prompt)
assert np.allclose(first, gpt(prompt)[0].data[:, -1])
greedy = gpt.generate(prompt, 3, temperature=0)
assert greedy[0, 5] == gpt(prompt)[0].data[0, -1].argmax()
long_prompt = rng.integers(0, V, (1, 3 * BLOCK))
assert gpt.generate(long_prompt, 4, rng=0).shape == (1, 3 * BLOCK + 4)

draws = sample_token(np.log([[0.7, 0.2, 0.1]]).repeat(20000, 0), rng=1)
assert np.allclose(np.bincount(draws, minlength=3) / 20000, [0.7, 0.2, 0.1], atol=0.01)
assert set(sample_token(np.log([[0.5, 0.3, 0.2]]).repeat(500, 0), top_k=2)) == {0, 1}

# %% [markdown]
# ## 6. Does it learn?
#
# The smallest useful test of a whole model: one fixed batch, many steps.
# A correct model and backward drive the loss on it towards zero; a bug in
# masking, gradients or the optimizer usually shows as a loss that stalls.

# %%
import time

import tinytorch.optim as optim

np.random.seed(0)
tiny = GPT(V, BLOCK, n_layer=2, n_head=2, n_embd=32)
opt = optim.AdamW(tiny.parameters(), lr=3e-3, weight_decay=0.0)
batch = rng.integers(0, V, (4, BLOCK + 1))
start = time.perf_counter()
for step in range(150):
    _, loss = tiny(batch[:, :-1], batch[:, 1:])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.item():.3f}")
print(f"step 150  loss {loss.item():.3f}  ({time.perf_counter() - start:.1f} s)")
assert loss.item() < 0.2

# %% [markdown]
# ## 7. Systems: parameters, FLOPs, time
#
# **Parameters.** With vocabulary `V`, context `T_max = block_size`, width `C`
# and `L` layers, each block holds two layer norms (`2C` each), the fused qkv
# projection (`3C² + 3C`), the output projection (`C² + C`) and the MLP
# (`4C² + 4C` and `4C² + C`): `12C² + 13C` per block. In total
#
# $$N = VC + T_{max}C + L(12C^2 + 13C) + 2C \;(+\,VC \text{ if untied}).$$


# %%
def param_formula(V, T_max, L, C, tied=True):
    return (
        V * C + T_max * C + L * (12 * C * C + 13 * C) + 2 * C + (0 if tied else V * C)
    )


for cfg in [(65, 64, 4, 128), (65, 256, 6, 384), (50257, 1024, 12, 768)]:
    print(f"V={cfg[0]:5d} T={cfg[1]:4d} L={cfg[2]:2d} C={cfg[3]:3d}: "
          f"{param_formula(*cfg) / 1e6:7.2f} M parameters")  # fmt: skip
assert gpt.num_params() == param_formula(V, BLOCK, 2, 16)
untied = GPT(V, BLOCK, n_layer=2, n_head=2, n_embd=16, tie_weights=False)
assert untied.num_params() == param_formula(V, BLOCK, 2, 16, tied=False)

# %% [markdown]
# The last row is GPT-2 small: 124 M parameters, of which 38.6 M are the
# token embedding.
#
# **FLOPs per token.** A matrix product with `N` weights costs `2N` FLOPs per
# token forward (a multiply and an add per weight) and about twice that
# backward (gradients for the input and for the weights): `6N` per token for
# a training step, counting the `L(12C²)` block weights and the head's `VC`.
# Attention adds the score and weighted-sum products: `4TC` per token per
# layer forward (this implementation computes the full `T × T` scores and
# then masks half), `12TC` for training. Measure one training step of
# nanoGPT's small CPU configuration and see what fraction of the machine's
# FLOPs that is:

# %%
V_, T_, L_, C_, B_ = 65, 64, 4, 128, 12
np.random.seed(0)
model = GPT(V_, T_, L_, 4, C_)
opt = optim.AdamW(model.parameters(), lr=1e-3)
xb = rng.integers(0, V_, (B_, T_ + 1))


def train_step():
    _, loss = model(xb[:, :-1], xb[:, 1:])
    opt.zero_grad()
    loss.backward()
    opt.step()


train_step()
times = []
for _ in range(5):
    start = time.perf_counter()
    train_step()
    times.append(time.perf_counter() - start)
step_s = float(np.median(times))
flops = B_ * T_ * (6 * (L_ * 12 * C_ * C_ + V_ * C_) + L_ * 12 * T_ * C_)
print(f"one training step: {step_s * 1e3:.1f} ms, {B_ * T_ / step_s:,.0f} tokens/s")
print(f"{flops / 1e9:.2f} GFLOP per step -> {flops / step_s / 1e9:.1f} GFLOP/s")

# %% [markdown]
# Small matrices (width 128) keep the BLAS far from its peak; the rest of the
# time goes to element-wise work (layer norms, GELU, softmax, the optimizer)
# that grows with `B * T * C` and costs memory traffic rather than FLOPs.
#
# **Memory.** Training keeps every layer's activations for the backward pass:
# roughly `B * T * C` numbers for each of a dozen intermediates per block, plus
# the `(B, nh, T, T)` attention weights from module 12. Doubling the context
# doubles the first and quadruples the second.
#
# ## What you built
#
# - `MLP` and a pre-norm `TransformerBlock` with residual connections;
# - `GPT` with GPT-2 style initialisation and tied embeddings, whose loss
#   starts at `ln V` and which can memorise a batch;
# - `generate` with temperature and top-k, cropping long contexts.
#
# Milestone 05 trains it on Shakespeare: `tito milestone run 05`.

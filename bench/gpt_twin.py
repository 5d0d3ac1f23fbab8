"""A PyTorch twin of the milestone-05 GPT, for benchmarks and recipe checks.

Same architecture, initialisation and recipe as `tinytorch.models.gpt.GPT` and
`milestones/05_2017_transformer/train.py`: pre-norm blocks, one fused qkv
projection, GELU MLP, tied token embedding and output head, AdamW with warmup
and cosine decay, gradient clipping at 1.0. `bench/language.py` imports the
model to time one training step; run this file to train it on Shakespeare:

    python bench/gpt_twin.py --config small --data /work/shared/data/tinyshakespeare.txt

PyTorch is a benchmark tool here, never a dependency of tito or tinytorch.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

CONFIGS = {
    # nanoGPT's documented CPU run of shakespeare_char
    "small": dict(
        n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12,
        steps=2000, lr=1e-3, warmup=100, eval_every=250, eval_iters=20,
    ),
    # the milestone default
    "default": dict(
        n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=32,
        steps=2600, lr=2e-3, warmup=100, eval_every=200, eval_iters=20,
    ),
}  # fmt: skip


class Attention(tnn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.n_head = n_head
        self.qkv = tnn.Linear(n_embd, 3 * n_embd)
        self.proj = tnn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        shape = (B, T, self.n_head, C // self.n_head)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class MLP(tnn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.fc = tnn.Linear(n_embd, 4 * n_embd)
        self.proj = tnn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(tnn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln1 = tnn.LayerNorm(n_embd)
        self.attn = Attention(n_embd, n_head)
        self.ln2 = tnn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TwinGPT(tnn.Module):
    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd):
        super().__init__()
        self.block_size = block_size
        self.wte = tnn.Embedding(vocab_size, n_embd)
        self.wpe = tnn.Embedding(block_size, n_embd)
        self.blocks = tnn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = tnn.LayerNorm(n_embd)
        self.head = tnn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.wte.weight
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                tnn.init.zeros_(p)
            elif p.ndim == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if "proj" in name else 0.02
                tnn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(T)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def make_optimizer(model, lr, weight_decay=0.1):
    """AdamW; weight decay on matrices only (not biases, norms)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def lr_at(step, steps, lr, warmup):
    """Linear warmup, then cosine decay to lr / 10."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr / 10 + 0.5 * (lr - lr / 10) * (1 + math.cos(math.pi * progress))


def train_step(model, opt, x, y):
    _, loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/tinyshakespeare.txt")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="small")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = dict(CONFIGS[args.config])
    cfg.update({k: v for k, v in (("steps", args.steps), ("lr", args.lr)) if v})
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in chars], dtype=np.int64)
    lookup = dict(zip(chars, ids, strict=True))
    data = np.array([lookup[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    T, B = cfg["block_size"], cfg["batch_size"]

    def batch(source):
        starts = rng.integers(0, len(source) - T - 1, B)
        x = np.stack([source[s : s + T] for s in starts])
        y = np.stack([source[s + 1 : s + T + 1] for s in starts])
        return torch.from_numpy(x), torch.from_numpy(y)

    @torch.no_grad()
    def evaluate(source):
        model.eval()
        loss = np.mean(
            [model(*batch(source))[1].item() for _ in range(cfg["eval_iters"])]
        )
        model.train()
        return loss

    model = TwinGPT(len(chars), T, cfg["n_layer"], cfg["n_head"], cfg["n_embd"])
    opt = make_optimizer(model, cfg["lr"])
    start = time.perf_counter()
    for step in range(cfg["steps"] + 1):
        if step % cfg["eval_every"] == 0 or step == cfg["steps"]:
            mins = (time.perf_counter() - start) / 60
            tr, va = evaluate(train), evaluate(val)
            print(
                f"step {step:5d}  train {tr:.4f}  val {va:.4f}  {mins:.2f} min",
                flush=True,
            )
        if step == cfg["steps"]:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg["steps"], cfg["lr"], cfg["warmup"])
        train_step(model, opt, *batch(train))
    print(f"total {(time.perf_counter() - start) / 60:.2f} min")


if __name__ == "__main__":
    main()

"""Language-track benchmark: tinytorch against PyTorch on the CPU, one run.

Cases: causal attention forward+backward (batch 12, 4 heads, 64 tokens, head
width 32) against `F.scaled_dot_product_attention`, and one training step
(forward, backward, clipping, AdamW) of the 4-layer GPT against the PyTorch
twin in `bench/gpt_twin.py`, after checking that both models give the same
loss from the same weights: nanoGPT's CPU configuration (batch 12, context 64)
and the milestone's default (batch 32, context 128). Wall and CPU time are
both reported; the two take turns in blocks of calls (see `timing.paired`).

    tito dev build /tmp/ref && PYTHONPATH=/tmp/ref python bench/language.py

Both sides run with the same number of threads (`--threads`, default 1): on a
shared machine, more threads than free cores make either side erratic.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

THREADS = "1"
if "--threads" in sys.argv:
    THREADS = sys.argv[sys.argv.index("--threads") + 1]
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = THREADS  # before NumPy loads its BLAS

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tinytorch.optim as optim  # noqa: E402
from timing import load_torch, paired, report  # noqa: E402
from tinytorch import Tensor  # noqa: E402
from tinytorch.models.gpt import GPT  # noqa: E402
from tinytorch.nn.attention import scaled_dot_product_attention  # noqa: E402

SMALL = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
BATCH = 12


def attention_case(torch):
    """(name, ours, theirs, target): causal attention forward + backward."""
    rng = np.random.default_rng(0)
    shape = (12, 4, 64, 32)  # (B, nh, T, hs)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    q, k, v = (Tensor(a, requires_grad=True) for a in arrays[:3])
    upstream = arrays[3]

    def ours():
        scaled_dot_product_attention(q, k, v, is_causal=True).backward(upstream)

    theirs = None
    if torch is not None:
        sdpa = torch.nn.functional.scaled_dot_product_attention
        tq, tk, tv = (torch.from_numpy(a).requires_grad_() for a in arrays[:3])
        tg = torch.from_numpy(upstream)
        mine = scaled_dot_product_attention(q, k, v, is_causal=True).data
        same = sdpa(tq, tk, tv, is_causal=True).detach().numpy()
        assert np.allclose(mine, same, atol=1e-5), "outputs differ"

        def theirs():
            sdpa(tq, tk, tv, is_causal=True).backward(tg)

    return "causal attention fwd+bwd (12x4x64x32)", ours, theirs, 3.0


def training_step_case(torch, batch, block):
    """(name, ours, theirs, target): one step of forward, backward, clip, AdamW."""
    cfg = dict(SMALL, block_size=block)
    np.random.seed(0)
    model = GPT(**cfg)
    decay = [p for p in model.parameters() if p.data.ndim >= 2]
    rest = [p for p in model.parameters() if p.data.ndim < 2]
    opt = optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
        lr=1e-3,
        betas=(0.9, 0.99),
    )
    xb = np.random.default_rng(0).integers(0, cfg["vocab_size"], (batch, block + 1))
    x, y = xb[:, :-1], xb[:, 1:]

    def ours():
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    theirs = None
    if torch is not None:
        from gpt_twin import TwinGPT, make_optimizer, train_step

        twin = TwinGPT(**cfg)
        state = model.state_dict()
        twin.load_state_dict({k: torch.from_numpy(state[k]) for k in twin.state_dict()})
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        with torch.no_grad():
            same = twin(tx, ty)[1].item()
        assert abs(same - model(x, y)[1].item()) < 1e-4, "the twin is another model"
        topt = make_optimizer(twin, 1e-3)

        def theirs():
            train_step(twin, topt, tx, ty)

    name = f"GPT training step (4x128, B={batch}, T={block})"
    return name, ours, theirs, 2.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threads", default="1", help="BLAS and torch threads for both (default 1)"
    )
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    torch = load_torch()
    if torch is not None:
        torch.set_num_threads(int(THREADS))
    cases = [
        attention_case(torch),
        training_step_case(torch, BATCH, SMALL["block_size"]),
        training_step_case(torch, 32, 128),
    ]
    for title, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        rows = []
        for name, ours, theirs, target in cases:
            mine, other = paired(ours, theirs, args.repeat, clock)
            rows.append((name, mine, other, target))
        report(f"language track, {title} time (tinytorch / torch)", rows)
    print(f"\nthreads: {THREADS} for both")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""Language-track benchmark: tinytorch against PyTorch on the CPU, one run.

Cases: causal attention forward+backward (batch 12, 4 heads, 64 tokens, head
width 32) against `F.scaled_dot_product_attention`, and one training step
(forward, backward, clipping, AdamW) of nanoGPT's 4-layer CPU configuration
against the PyTorch twin in `bench/gpt_twin.py`, after checking that both
models give the same loss from the same weights.

    tito dev build /tmp/ref && PYTHONPATH=/tmp/ref python bench/language.py

Both sides run with the same number of threads (`--threads`, default 1): on a
shared machine, more threads than free cores make either side erratic.
"""

from __future__ import annotations

import argparse
import os
import sys

THREADS = "1"
if "--threads" in sys.argv:
    THREADS = sys.argv[sys.argv.index("--threads") + 1]
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = THREADS  # before NumPy loads its BLAS

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tinytorch.optim as optim  # noqa: E402
from timing import load_torch, median_seconds, report  # noqa: E402
from tinytorch import Tensor  # noqa: E402
from tinytorch.models.gpt import GPT  # noqa: E402
from tinytorch.nn.attention import scaled_dot_product_attention  # noqa: E402

SMALL = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
BATCH = 12


def attention_case(torch):
    rng = np.random.default_rng(0)
    shape = (12, 4, 64, 32)  # (B, nh, T, hs)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    q, k, v = (Tensor(a, requires_grad=True) for a in arrays[:3])
    upstream = arrays[3]

    def ours():
        scaled_dot_product_attention(q, k, v, is_causal=True).backward(upstream)

    theirs = None
    if torch is not None:
        tq, tk, tv = (torch.from_numpy(a).requires_grad_() for a in arrays[:3])
        tg = torch.from_numpy(upstream)

        def theirs_fn():
            out = torch.nn.functional.scaled_dot_product_attention(
                tq, tk, tv, is_causal=True
            )
            out.backward(tg)

        out = torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, is_causal=True
        )
        mine = scaled_dot_product_attention(q, k, v, is_causal=True).data
        assert np.allclose(mine, out.detach().numpy(), atol=1e-5), "outputs differ"
        theirs = median_seconds(theirs_fn, repeat=50)
    return (
        "causal attention fwd+bwd (12x4x64x32)",
        median_seconds(ours, 50),
        theirs,
        3.0,
    )


def training_step_case(torch):
    np.random.seed(0)
    model = GPT(**SMALL)
    decay = [p for p in model.parameters() if p.data.ndim >= 2]
    rest = [p for p in model.parameters() if p.data.ndim < 2]
    opt = optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
        lr=1e-3,
        betas=(0.9, 0.99),
    )
    rng = np.random.default_rng(0)
    xb = rng.integers(0, SMALL["vocab_size"], (BATCH, SMALL["block_size"] + 1))
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

        twin = TwinGPT(**SMALL)
        state = model.state_dict()
        twin.load_state_dict({k: torch.from_numpy(state[k]) for k in twin.state_dict()})
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        with torch.no_grad():
            same = twin(tx, ty)[1].item()
        assert abs(same - model(x, y)[1].item()) < 1e-4, (
            "the twin is not the same model"
        )
        topt = make_optimizer(twin, 1e-3)
        theirs = median_seconds(lambda: train_step(twin, topt, tx, ty), repeat=20)
    step = median_seconds(ours, repeat=20)
    return ("GPT training step (4x128, B=12, T=64)", step, theirs, 2.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threads", default="1", help="BLAS and torch threads for both (default 1)"
    )
    ap.parse_args()
    torch = load_torch()
    if torch is not None:
        torch.set_num_threads(int(THREADS))
    rows = [attention_case(torch), training_step_case(torch)]
    report("language track (tinytorch / torch, CPU)", rows)
    print(f"threads: {THREADS} for both")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

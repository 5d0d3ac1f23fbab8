"""Benchmark of the foundation (modules 01-07) against PyTorch on the CPU.

Per-op overhead on tiny tensors (where Python bookkeeping dominates) and one
training step of a 784-256-256-10 MLP with AdamW (where the arithmetic does).
Run against a built package: `tito dev build /tmp/ref && PYTHONPATH=/tmp/ref
python bench/foundation.py`. Prints tinytorch / torch time ratios.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import load_torch, median_seconds, report  # noqa: E402

OP_TARGET = 3.0
MLP_TARGET = 1.5


def limit_blas(threads: int):
    """Limit NumPy's BLAS to `threads` (a context manager), if threadpoolctl is
    installed; torch is given the same number, so both sides compute alike."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def per_call(fn, calls: int, repeat: int) -> float:
    """Median seconds of one `fn()`, timing batches of `calls` calls."""

    def batch():
        for _ in range(calls):
            fn()

    return median_seconds(batch, repeat=repeat) / calls


def tiny_ops(torch, calls: int, repeat: int):
    from tinytorch import Tensor

    rng = np.random.default_rng(0)
    a_np, b_np, c_np = (rng.standard_normal((4, 4), dtype=np.float32) for _ in range(3))
    a, b, c = (Tensor(x, requires_grad=True) for x in (a_np, b_np, c_np))

    def graph_tt():
        ((a * b + c) @ b).sum().backward()

    ours = {
        "add (4x4, requires_grad)": lambda: a + b,
        "matmul (4x4 @ 4x4)": lambda: a @ b,
        "sum (4x4 -> scalar)": lambda: a.sum(),
        "graph ((a*b+c)@b).sum(): fwd+bwd": graph_tt,
    }
    theirs = dict.fromkeys(ours)
    if torch is not None:
        ta, tb, tc = (torch.tensor(x, requires_grad=True) for x in (a_np, b_np, c_np))

        def graph_torch():
            ((ta * tb + tc) @ tb).sum().backward()

        theirs = {
            "add (4x4, requires_grad)": lambda: ta + tb,
            "matmul (4x4 @ 4x4)": lambda: ta @ tb,
            "sum (4x4 -> scalar)": lambda: ta.sum(),
            "graph ((a*b+c)@b).sum(): fwd+bwd": graph_torch,
        }
    rows = []
    for name, fn in ours.items():
        mine = per_call(fn, calls, repeat)
        other = per_call(theirs[name], calls, repeat) if theirs[name] else None
        rows.append((name, mine, other, OP_TARGET))
    return rows


def mlp_step(torch, repeat: int):
    import tinytorch.nn as nn
    import tinytorch.nn.functional as F
    import tinytorch.optim as optim
    from tinytorch import Tensor

    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((128, 784), dtype=np.float32)
    y_np = rng.integers(0, 10, 128)

    np.random.seed(0)
    model = nn.Sequential(
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    x = Tensor(x_np)

    def step_tt():
        opt.zero_grad()
        F.cross_entropy(model(x), y_np).backward()
        opt.step()

    mine = median_seconds(step_tt, repeat=repeat, warmup=5)
    other = None
    if torch is not None:
        tmodel = torch.nn.Sequential(
            torch.nn.Linear(784, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 10),
        )
        topt = torch.optim.AdamW(tmodel.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x_np), torch.from_numpy(y_np)

        def step_torch():
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
            topt.step()

        other = median_seconds(step_torch, repeat=repeat, warmup=5)
    return [("MLP 784-256-256-10, batch 128, AdamW step", mine, other, MLP_TARGET)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads")
    args = parser.parse_args()
    calls, repeat = (200, 7) if args.quick else (2000, 15)

    torch = load_torch()
    limits = limit_blas(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    note = f"threads: {args.threads}" + (
        "" if limits else " for torch (BLAS unlimited)"
    )
    if torch is None:
        note += "; PyTorch not installed, no ratios"
    print(f"foundation benchmark ({note})")
    report(
        "per-op overhead, tiny tensors (time per call)", tiny_ops(torch, calls, repeat)
    )
    report("training step", mlp_step(torch, repeat=max(repeat, 20)))


if __name__ == "__main__":
    main()

"""Shared timing for the benchmarks: median of repeated runs, and a ratio table.

Every benchmark times tinytorch and, when it is installed, PyTorch on the CPU in
the same run, and prints ratios (tinytorch time / PyTorch time; lower is better).
"""

from __future__ import annotations

import statistics
import time


def median_seconds(fn, repeat: int = 20, warmup: int = 3) -> float:
    """Median wall time of `fn()` over `repeat` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_torch():
    """PyTorch on the CPU with as many threads as NumPy's BLAS, or None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def report(title: str, rows: list[tuple[str, float, float | None, float]]) -> None:
    """Print rows of (case, ours_s, torch_s or None, target ratio)."""
    print(f"\n{title}")
    print(f"{'case':<44} {'tinytorch':>11} {'torch':>11} {'ratio':>7} {'target':>7}")
    for name, ours, theirs, target in rows:
        if theirs is None:
            print(f"{name:<44} {_fmt(ours):>11} {'-':>11} {'-':>7} {target:>6.1f}x")
            continue
        ratio = ours / theirs
        mark = "ok" if ratio <= target else "SLOW"
        print(
            f"{name:<44} {_fmt(ours):>11} {_fmt(theirs):>11} "
            f"{ratio:>6.2f}x {target:>6.1f}x {mark}"
        )


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"

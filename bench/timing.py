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


def paired(ours, theirs, repeat: int, clock=time.perf_counter, rounds: int = 3):
    """Median times of `ours()` and `theirs()` (which may be None).

    The two take turns in blocks of calls, and the first call of each block is
    not timed: after a call, a library's idle threads keep spinning for a while
    (OpenMP's and OpenBLAS's both do) and would slow whatever runs next on the
    same cores. Taking turns still lets a shared machine's load hit both sides.
    """
    per_block = max(1, -(-repeat // rounds))  # ceiling division
    times: dict = {ours: [], theirs: []}
    for _ in range(rounds):
        for fn in (ours, theirs):
            if fn is None:
                continue
            fn()  # settles caches, allocator and the other side's threads
            for _ in range(per_block):
                start = clock()
                fn()
                times[fn].append(clock() - start)
    mine = statistics.median(times[ours])
    return mine, statistics.median(times[theirs]) if theirs else None


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

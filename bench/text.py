"""Text benchmark: BPE training against `tokenizers`, embedding backward vs PyTorch.

Cases, from one run:
- byte-level BPE training on Tiny Shakespeare (1.1 MB) to a 1,024-token
  vocabulary, against the Hugging Face `tokenizers` package with its ByteLevel
  pre-tokenizer; the limit is 10 seconds in any case;
- the token embedding of a small GPT (a batch of 32 x 128 ids, width 128, with
  65 characters and with 1,024 BPE tokens): forward + backward, and the
  backward alone, against `torch.nn.Embedding` (target within 2x).

    tito dev build /tmp/ref && PYTHONPATH=/tmp/ref python bench/text.py

Both sides run with the same number of threads (`--threads`, default 1), and
take turns, so that both see the same load on a shared machine.
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
os.environ["RAYON_NUM_THREADS"] = THREADS  # the thread pool of `tokenizers`

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from timing import load_torch, median_seconds, report  # noqa: E402
from tinytorch.nn.embedding import Embedding, sum_rows_by_id  # noqa: E402
from tinytorch.text.tokenizers import BPETokenizer  # noqa: E402

BPE_VOCAB = 1024
BPE_LIMIT_S = 10.0
B, T, C = 32, 128, 128


def bpe_case(text: str, repeat: int) -> None:
    """Time both trainers; print seconds, ratio and tokens per corpus."""
    n_bytes = len(text.encode("utf-8"))
    ours_tok = BPETokenizer()
    ours_s = best_seconds(lambda: ours_tok.train(text, BPE_VOCAB), repeat)
    ours_tokens = len(ours_tok.encode(text))

    rows = [("tinytorch BPETokenizer.train", ours_s, ours_tok.vocab_size, ours_tokens)]
    hf = load_tokenizers()
    if hf is not None:
        lines = text.splitlines(keepends=True)
        hf_s = best_seconds(lambda: hf_train(hf, lines), repeat)
        hf_tok = hf_train(hf, lines)
        hf_tokens = sum(len(e.ids) for e in hf_tok.encode_batch(lines))
        rows.append(
            (
                "tokenizers BpeTrainer (ByteLevel)",
                hf_s,
                hf_tok.get_vocab_size(),
                hf_tokens,
            )
        )

    print(
        f"\nBPE training to {BPE_VOCAB} tokens on {n_bytes:,} bytes, best of {repeat}"
    )
    print(f"{'trainer':<36} {'seconds':>8} {'vocab':>6} {'tokens':>9} {'bytes/tok':>9}")
    for name, seconds, vocab, tokens in rows:
        print(
            f"{name:<36} {seconds:>8.2f} {vocab:>6} {tokens:>9,} "
            f"{n_bytes / tokens:>9.2f}"
        )
    verdict = "ok" if ours_s < BPE_LIMIT_S else "TOO SLOW"
    print(f"limit {BPE_LIMIT_S:.0f} s for tinytorch: {verdict}")
    if hf is None:
        print("(`tokenizers` is not installed: no comparison)")
    else:
        print(f"ratio tinytorch / tokenizers: {ours_s / rows[1][1]:.1f}x")


def hf_train(hf, lines):
    tokenizer = hf.Tokenizer(hf.models.BPE())
    tokenizer.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = hf.trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        initial_alphabet=hf.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def embedding_cases(torch, vocab: int) -> list[tuple[str, float, float | None, float]]:
    """(name, ours, theirs, target) rows for forward+backward and backward alone."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, vocab, size=(B, T))
    upstream = rng.standard_normal((B, T, C)).astype(np.float32)
    emb = Embedding(vocab, C)

    def ours_step():
        emb.weight.grad = None
        emb(ids).backward(upstream)

    flat_ids, flat_grad = ids.reshape(-1), upstream.reshape(-1, C)

    def ours_bwd():
        sum_rows_by_id(flat_ids, flat_grad, vocab)

    if torch is None:
        return [
            (f"Embedding fwd+bwd, V={vocab}", interleaved([ours_step])[0], None, 2.0),
            (f"Embedding backward, V={vocab}", interleaved([ours_bwd])[0], None, 2.0),
        ]

    temb = torch.nn.Embedding(vocab, C)
    with torch.no_grad():
        temb.weight.copy_(torch.from_numpy(emb.weight.data))
    tids, tgrad = torch.from_numpy(ids), torch.from_numpy(upstream)

    def theirs_step():
        temb.weight.grad = None
        temb(tids).backward(tgrad)

    def theirs_bwd():
        torch.ops.aten.embedding_dense_backward(tgrad, tids, vocab, -1, False)

    ours_step()
    theirs_step()
    assert np.allclose(emb.weight.grad, temb.weight.grad.numpy(), atol=1e-3), (
        "the gradients differ"
    )
    step = interleaved([ours_step, theirs_step])
    bwd = interleaved([ours_bwd, theirs_bwd])
    return [
        (f"Embedding fwd+bwd, V={vocab}", *step, 2.0),
        (f"Embedding backward, V={vocab}", *bwd, 2.0),
    ]


def interleaved(fns, rounds: int = 5, repeat: int = 20) -> list[float]:
    """Per function, the lowest of `rounds` medians, the functions taking turns.

    On a shared machine the load changes from second to second; taking turns
    exposes both sides to the same load, and the lowest median drops the
    rounds where another process took the core.
    """
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            best[k] = min(best[k], median_seconds(fn, repeat=repeat))
    return best


def best_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load_tokenizers():
    try:
        import tokenizers
    except ImportError:
        return None
    return tokenizers


def load_corpus(data_dir):
    from tito.datasets import load_text
    from tito.errors import TitoError

    try:
        return load_text("tinyshakespeare", data_dir, download=False)
    except TitoError as e:
        print(f"error: {e.what}", file=sys.stderr)
        print(e.todo, file=sys.stderr)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threads", default="1", help="BLAS, torch and tokenizers threads (default 1)"
    )
    ap.add_argument(
        "--data-dir", default=None, help="tinyshakespeare.txt or its folder"
    )
    ap.add_argument("--repeat", type=int, default=3, help="BPE training runs")
    args = ap.parse_args()

    torch = load_torch()
    if torch is not None:
        torch.set_num_threads(int(THREADS))
    rows = embedding_cases(torch, 65) + embedding_cases(torch, 1024)
    report(f"embedding of {B}x{T} ids, width {C} (tinytorch / torch, CPU)", rows)
    bpe_case(load_corpus(args.data_dir), args.repeat)
    print(f"threads: {THREADS} for all")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

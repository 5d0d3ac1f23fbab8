"""Milestone 05's data: a corpus as token ids, split 90/10, and batches of windows.

The tokenizer comes from the learner's module 10. The character vocabulary is
read off the whole corpus (so validation text never holds an unknown
character); byte-pair merges are learnt on the training text only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Corpus:
    tokenizer: object
    train: np.ndarray  # (N_train,) int64 token ids
    val: np.ndarray  # (N_val,) int64 token ids
    train_chars: int
    val_chars: int


def build_corpus(text: str, kind: str, bpe_vocab: int) -> Corpus:
    """Tokenize `text` with a "char" or "bpe" tokenizer; first 90% is training."""
    from tinytorch.text.tokenizers import BPETokenizer, CharTokenizer

    cut = int(0.9 * len(text))
    train_text, val_text = text[:cut], text[cut:]
    if kind == "char":
        tokenizer = CharTokenizer(text)
    else:
        tokenizer = BPETokenizer().train(train_text, bpe_vocab)
    train = np.asarray(tokenizer.encode(train_text), dtype=np.int64)
    val = np.asarray(tokenizer.encode(val_text), dtype=np.int64)
    return Corpus(tokenizer, train, val, len(train_text), len(val_text))


def random_batch(ids: np.ndarray, batch: int, block: int, rng) -> np.ndarray:
    """(batch, block + 1) windows at random offsets.

    Inputs are [:, :-1], targets [:, 1:].
    """
    starts = rng.integers(0, len(ids) - block - 1, size=batch)  # (B,)
    return ids[starts[:, None] + np.arange(block + 1)]  # (B, T + 1)


def tiled_batches(ids: np.ndarray, batch: int, block: int):
    """Every non-overlapping window of the whole split, `batch` at a time."""
    starts = np.arange(0, len(ids) - block - 1, block)
    for i in range(0, len(starts), batch):
        yield ids[starts[i : i + batch, None] + np.arange(block + 1)]  # (b, T + 1)

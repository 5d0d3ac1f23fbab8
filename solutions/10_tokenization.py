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
# # Module 10: Tokenization
#
# A language model never sees text. It sees integers, one per *token*, and it
# learns one vector per integer. This module builds the two tokenizers the rest
# of the language track uses:
#
# - `CharTokenizer`: one token per character, the vocabulary read off a corpus.
#   Tiny vocabulary, long sequences, and nothing it can say about a character
#   it has never seen.
# - `BPETokenizer`: byte-level byte-pair encoding. It starts from the 256
#   possible bytes, so every string can be encoded, and learns merges of
#   frequent neighbours until the vocabulary reaches the size you ask for.
#
# You will write the loop version of BPE training first (count every pair,
# merge the best, count again), see why it is slow, and then write the version
# the package exports, which updates its counts in place after every merge.
#
# The module ends with a systems section: how many bytes of text one token
# carries as the vocabulary grows, and what a bigger vocabulary costs in
# embedding memory and saves in sequence length.

# %%
#| default_exp text.tokenizers

# %% [markdown]
# ## 1. Characters
#
# The simplest tokenizer lists the distinct characters of a corpus, sorts them,
# and numbers them. Here is that idea as a dictionary, on a small string:

# %%
sample = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
chars = sorted(set(sample))
stoi = {c: i for i, c in enumerate(chars)}
itos = {i: c for c, i in stoi.items()}
ids = [stoi[c] for c in sample]
assert "".join(itos[i] for i in ids) == sample
print(len(chars), "characters;", ids[:12])

# %% [markdown]
# Two decisions turn this into a tool.
#
# **Order.** Sorting by code point makes the vocabulary a function of the set
# of characters alone, so two runs on the same corpus agree on every id.
#
# **Characters never seen.** A prompt typed later may hold a character that was
# not in the corpus. The rule here: by default that is an error naming the
# character and where it is, because silently changing someone's text is worse
# than refusing it. If you pass `unknown="?"` (any single character), every
# unseen character is encoded as that character's id instead; the character is
# added to the vocabulary if the corpus did not contain it. Decoding then gives
# `?` where the unseen character was, so the round trip holds only for text made
# of known characters.
#
# The dictionary lookup above is a Python loop over characters. The exported
# version encodes a whole text at once: `str.encode("utf-32-le")` turns it into
# one 32-bit code point per character, and because the vocabulary is sorted by
# code point, `np.searchsorted` finds every id in one call.
#
# **Exercise.** Write `CharTokenizer.__init__` (build the sorted vocabulary),
# `encode` and `decode`.

# %%
#| export
"""Tokenizers: text to integer ids and back.

CharTokenizer numbers the distinct characters of a corpus. BPETokenizer is a
byte-level byte-pair encoder: every string round-trips, merges are learned with
pair counts updated in place, and special tokens are never split.
"""

import heapq
import json
import re
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np


def _code_points(text: str) -> np.ndarray:
    """One uint32 code point per character (lone surrogates included)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class CharTokenizer:
    """One token per character; ids are the sorted characters of a corpus.

    A character missing from the vocabulary raises ValueError, unless
    `unknown` names a single character: unseen characters are then encoded
    as its id (it joins the vocabulary if the corpus lacks it).
    """

    def __init__(self, corpus: str = "", unknown: str | None = None):
        if unknown is not None and len(unknown) != 1:
            raise ValueError(
                f"unknown must be one character, got {unknown!r}; "
                "pass e.g. unknown='?' or leave it None to refuse unseen characters"
            )
        self.unknown = unknown
        ### BEGIN SOLUTION
        chars = set(corpus)
        if unknown is not None:
            chars.add(unknown)
        self.chars = sorted(chars)
        self._codes = _code_points("".join(self.chars))
        ### END SOLUTION

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Text -> list of ids, one per character."""
        ### BEGIN SOLUTION
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        found = ids < len(self._codes)
        found[found] = self._codes[ids[found]] == codes[found]
        if not found.all():
            if self.unknown is None:
                at = int(np.argmin(found))
                raise ValueError(
                    f"character {text[at]!r} (U+{ord(text[at]):04X}) at position "
                    f"{at} is not in the vocabulary of {self.vocab_size} characters; "
                    "build the tokenizer from a corpus containing it, or pass "
                    "unknown='?'"
                )
            ids[~found] = self.chars.index(self.unknown)
        return ids.tolist()
        ### END SOLUTION

    def decode(self, ids) -> str:
        """List (or array) of ids -> text."""
        ### BEGIN SOLUTION
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= self.vocab_size)
        if bad.any():
            raise ValueError(
                f"token id {int(ids[bad][0])} is out of range for a vocabulary of "
                f"{self.vocab_size} characters; ids must be in 0..{self.vocab_size - 1}"
            )
        return "".join(self.chars[i] for i in ids.tolist())
        ### END SOLUTION

    def save(self, path) -> None:
        """Write the vocabulary as JSON: {"kind": "char", "chars": [...], ...}."""
        state = {
            "kind": "char",
            "version": 1,
            "chars": self.chars,
            "unknown": self.unknown,
        }
        Path(path).write_text(json.dumps(state), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "CharTokenizer":
        state = _read_state(path, "char")
        tok = cls("".join(state["chars"]), unknown=state["unknown"])
        if tok.chars != state["chars"]:
            raise ValueError(f"{path}: the character list is not sorted and unique")
        return tok

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def _read_state(path, kind: str) -> dict:
    state = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(state, dict) or state.get("kind") != kind:
        found = state.get("kind") if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"{path} holds a {found!r} tokenizer, not {kind!r}; "
            f"load it with the matching tokenizer class"
        )
    return state


# %% [markdown]
# Check it against the dictionary version, and check the rule for unseen
# characters both ways.

# %%
tok = CharTokenizer(sample)
assert tok.chars == chars and tok.vocab_size == len(chars)
assert tok.encode(sample) == ids
assert tok.decode(tok.encode(sample)) == sample
assert tok.encode("") == [] and tok.decode([]) == ""
try:
    tok.encode("hear me, Zeus")
    raise AssertionError("an unseen character must be refused")
except ValueError as e:
    assert "'Z'" in str(e) and "position 9" in str(e)
lenient = CharTokenizer(sample, unknown="?")
assert lenient.decode(lenient.encode("Zeus")) == "?eus"
print(tok, "|", lenient)

# %% [markdown]
# ## 2. Bytes
#
# A character vocabulary built from English plays has about 65 entries and
# knows nothing of `é`, `日` or `🙂`. Byte-level tokenizers avoid the problem
# at the root: any Python string is UTF-8 encoded into bytes, and there are only
# 256 possible bytes. Start the vocabulary with all 256 and *every* string can
# be encoded, including ones the tokenizer has never seen.
#
# UTF-8 spends one byte on ASCII, two on most accented Latin letters, three on
# CJK and four on emoji. A combining accent is a character of its own:

# %%
for s in ["a", "é", "e\u0301", "日", "🙂"]:
    print(f"{s!r:>10} -> {list(s.encode('utf-8'))}")

# %% [markdown]
# Python strings can even hold lone surrogates (for instance file names decoded
# with `errors="surrogateescape"`), which strict UTF-8 refuses. The tokenizer
# encodes with `errors="surrogatepass"`, so those round-trip too.
#
# Bytes alone give long sequences: one token per byte. Byte-pair encoding
# shortens them by learning new tokens for byte sequences that occur often.
#
# ## 3. Byte-pair encoding, the loop version
#
# Training repeats one step: count every pair of neighbouring tokens, take the
# most frequent pair, give it a new id, and replace the pair by that id
# everywhere. Each merge adds one token to the vocabulary.
#
# Two small helpers do the counting and the replacing for one sequence.
# Replacement goes left to right and does not overlap: merging `(a, a)` in
# `a a a` gives `aa a`.
#
# **Exercise.** Write `pair_counts` and `merge_pair`.


# %%
#| export
def pair_counts(ids) -> Counter:
    """How often each pair of neighbours occurs in `ids`."""
    ### BEGIN SOLUTION
    return Counter(pairwise(ids))
    ### END SOLUTION


def merge_pair(ids, pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping `pair` in `ids`, left to right, by `new_id`."""
    ### BEGIN SOLUTION
    a, b = pair
    out = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %%
assert pair_counts([1, 2, 1, 2, 3]) == {(1, 2): 2, (2, 1): 1, (2, 3): 1}
assert pair_counts([7]) == {}
assert merge_pair([1, 2, 1, 2, 3], (1, 2), 9) == [9, 9, 3]
assert merge_pair([5, 5, 5], (5, 5), 9) == [9, 5]
assert merge_pair([], (1, 2), 9) == []

# %% [markdown]
# **Where pairs may form.** Run over raw bytes, BPE happily learns tokens such
# as `"e t"` that glue the end of one word to the start of the next. Tokenizers
# of the GPT family first cut the text into *chunks*: runs of letters (with the
# space before them), runs of digits, runs of other symbols, and whitespace.
# Merges stay inside a chunk. The pattern below is our own version of that idea,
# written for Python's `re`; the chunks always concatenate back to the text.

# %%
#| export
# Letters (with combining accents), digits and other symbols, each optionally
# led by one space; runs of whitespace keep their last space for the next word.
WORD_PATTERN = (
    r" ?(?:[^\W\d_]|[\u0300-\u036f])+| ?\d+| ?(?:[^\s\w\u0300-\u036f]|_)+"
    r"|\s+(?!\S)|\s+"
)


# %%
words = re.findall(WORD_PATTERN, "Hello,  world! 42 cafe\u0301 日本 🙂\n\n")
print(words)
assert "".join(words) == "Hello,  world! 42 cafe\u0301 日本 🙂\n\n"

# %% [markdown]
# A corpus has many repeated chunks (` the` occurs thousands of times), so
# training works on the *distinct* chunks, each with its count. Here is the
# loop version of training: after every merge it counts every pair again.


# %%
def train_naive(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """BPE training that recounts all pairs after every merge."""
    chunks = Counter(re.findall(WORD_PATTERN, text))
    seqs = [list(w.encode("utf-8")) for w in chunks]
    freqs = list(chunks.values())
    merges = []
    while 256 + len(merges) < vocab_size:
        counts = Counter()
        for seq, freq in zip(seqs, freqs, strict=True):
            for pair, n in pair_counts(seq).items():
                counts[pair] += n * freq
        if not counts:
            break
        # Most frequent first; ties go to the smallest pair of ids.
        best = min(counts, key=lambda p: (-counts[p], p))
        new_id = 256 + len(merges)
        seqs = [merge_pair(seq, best, new_id) for seq in seqs]
        merges.append(best)
    return merges


# %% [markdown]
# Work one example by hand. In `"tatata tat at"` the chunks are `tatata`,
# ` tat` and ` at`. The pairs `ta` and `at` both occur 4 times; the tie goes to
# the smaller pair of ids, and `a` (97) is smaller than `t` (116), so the first
# merge is `at` -> 256. Then `t` + `at` occurs twice (`t|at|at|a` and
# ` |t|at`), so `tat` -> 257. After that every pair occurs once, and ties decide
# the rest: ` at`, ` tat`, `ata`, and finally `tat` + `ata` = `tatata`.

# %%
t, a, sp = ord("t"), ord("a"), ord(" ")
hand_worked = [(a, t), (t, 256), (sp, 256), (sp, 257), (256, a), (257, 260)]
assert train_naive("tatata tat at", 300) == hand_worked

# %% [markdown]
# That is correct and slow. Every merge walks the whole corpus again, although
# a merge only changes the chunks that contain its pair. On a 1 MB text with
# about 15,000 distinct chunks and 768 merges, the loop version counts pairs in
# 15,000 chunks 768 times.
#
# ## 4. Training with counts updated in place
#
# The fast trainer keeps three structures alive across merges:
#
# - `counts[pair]`: the current count of every pair, weighted by chunk frequency,
# - `where[pair]`: the set of chunks that contain (or once contained) the pair,
# - a heap of `(-count, pair)` entries, so the most frequent pair, and among
#   equals the smallest, comes out first.
#
# When pair `p` is merged into id `z`, only the chunks in `where[p]` change.
# For each of them, subtract the counts of its old pairs and add the counts of
# its new pairs; record the chunk in `where` for each new pair.
#
# The heap is never searched or edited. Entries go stale instead, and are
# checked when they come out (*lazy deletion*). A merge only ever lowers the
# counts of existing pairs; the only pairs whose counts rise are the new pairs
# that contain `z`, and those are pushed once the merge is done. So every entry
# in the heap is an upper bound of its pair's true count. When an entry comes
# out whose count is out of date, push the true count back and pop again; when
# it is up to date, nothing in the heap can beat it, and it is exactly the pair
# the loop version would have picked.
#
# Encoding a new text applies the learned merges inside each chunk: repeatedly
# merge the neighbouring pair that was learned *earliest* (lowest rank), until
# no learned pair is left. This gives the same tokens as replaying the merges
# in training order, without walking the whole list for every chunk. A chunk
# like ` the` is encoded thousands of times in a corpus, so encodings are
# cached per chunk.
#
# **Special tokens** such as `<|endoftext|>` are cut out of the text before
# anything else, get ids after the learned tokens, and are never split or
# merged with their neighbours.
#
# **Exercise.** Write `BPETokenizer.train` (the loop from the prose, with
# `counts`, `where` and the heap), `_encode_chunk` and `decode`.

# %%
#| export
_CACHE_LIMIT = 100_000


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class BPETokenizer:
    """Byte-level byte-pair encoding.

    Ids 0-255 are the bytes, then one id per learned merge in the order learned,
    then one id per special token. `decode(encode(s)) == s` for every string.
    """

    def __init__(self, special_tokens=(), pattern: str = WORD_PATTERN):
        self.pattern = pattern
        self._chunker = re.compile(pattern)
        self.special_tokens = list(dict.fromkeys(special_tokens))
        if any(not isinstance(s, str) or not s for s in self.special_tokens):
            raise ValueError(
                f"special tokens must be non-empty strings, got {special_tokens!r}"
            )
        self._set_merges([])

    def _set_merges(self, merges) -> None:
        self.merges = [tuple(p) for p in merges]
        self.ranks = {p: i for i, p in enumerate(self.merges)}
        self.vocab = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            self.vocab.append(self.vocab[a] + self.vocab[b])
        first = len(self.vocab)
        self.special_ids = {s: first + k for k, s in enumerate(self.special_tokens)}
        self.vocab += [_utf8(s) for s in self.special_tokens]
        longest_first = sorted(self.special_tokens, key=len, reverse=True)
        self._special_re = (
            re.compile("|".join(map(re.escape, longest_first)))
            if longest_first
            else None
        )
        self._cache = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _pieces(self, text: str):
        """(piece, is_special) for the text cut at special tokens."""
        if self._special_re is None:
            yield text, False
            return
        start = 0
        for m in self._special_re.finditer(text):
            yield text[start : m.start()], False
            yield m.group(), True
            start = m.end()
        yield text[start:], False

    def _chunks(self, text: str) -> list[str]:
        found = []
        for piece, special in self._pieces(text):
            if not special:
                found += self._chunker.findall(piece)
        return found

    def train(self, text: str, vocab_size: int) -> "BPETokenizer":
        """Learn merges from `text` until the vocabulary has `vocab_size` tokens.

        `vocab_size` counts the 256 bytes and the special tokens. Training stops
        early if no pair is left to merge. Ties between equally frequent pairs
        go to the smallest (first id, second id). Returns self.
        """
        smallest = 256 + len(self.special_tokens)
        if vocab_size < smallest:
            raise ValueError(
                f"vocab_size {vocab_size} is too small: 256 bytes and "
                f"{len(self.special_tokens)} special tokens need at least {smallest}"
            )
        n_merges = vocab_size - smallest
        chunks = Counter(self._chunks(text))
        seqs = [list(_utf8(w)) for w in chunks]
        freqs = list(chunks.values())
        merges = []
        ### BEGIN SOLUTION
        counts = defaultdict(int)
        where = defaultdict(set)
        for i, seq in enumerate(seqs):
            for pair in pairwise(seq):
                counts[pair] += freqs[i]
                where[pair].add(i)
        heap = [(-n, pair) for pair, n in counts.items()]
        heapq.heapify(heap)

        while len(merges) < n_merges and heap:
            stored, pair = heapq.heappop(heap)
            n = counts.get(pair, 0)
            if n <= 0:
                continue
            if -stored != n:  # stale: push the true count back
                heapq.heappush(heap, (-n, pair))
                continue

            new_id = 256 + len(merges)
            merges.append(pair)
            born = set()
            for i in where.pop(pair):
                old = seqs[i]
                new = merge_pair(old, pair, new_id)
                if len(new) == len(old):  # the pair left this chunk earlier
                    continue
                for p in pairwise(old):
                    counts[p] -= freqs[i]
                for p in pairwise(new):
                    counts[p] += freqs[i]
                    where[p].add(i)
                    if new_id in p:
                        born.add(p)
                seqs[i] = new
            counts.pop(pair)

            for p in born:
                heapq.heappush(heap, (-counts[p], p))
        ### END SOLUTION
        self._set_merges(merges)
        return self

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Ids of one chunk: merge the earliest-learned pair until none is left."""
        ### BEGIN SOLUTION
        ids = list(data)
        ranks = self.ranks
        while len(ids) > 1:
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, len(ranks)))
            rank = ranks.get(pair)
            if rank is None:
                break
            ids = merge_pair(ids, pair, 256 + rank)
        return ids
        ### END SOLUTION

    def encode(self, text: str) -> list[int]:
        """Text -> list of ids; special tokens in the text become their own id."""
        out = []
        cache = self._cache
        for piece, special in self._pieces(text):
            if special:
                out.append(self.special_ids[piece])
                continue
            for chunk in self._chunker.findall(piece):
                ids = cache.get(chunk)
                if ids is None:
                    if len(cache) >= _CACHE_LIMIT:
                        cache.clear()
                    ids = cache[chunk] = self._encode_chunk(_utf8(chunk))
                out += ids
        return out

    def decode(self, ids) -> str:
        """Ids -> text. Byte runs that are not valid UTF-8 (possible in sampled
        ids, never in ids from `encode`) decode to U+FFFD."""
        ### BEGIN SOLUTION
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= self.vocab_size)
        if bad.any():
            raise ValueError(
                f"token id {int(ids[bad][0])} is out of range for a vocabulary of "
                f"{self.vocab_size} tokens; ids must be in 0..{self.vocab_size - 1}"
            )
        data = b"".join([self.vocab[i] for i in ids.tolist()])
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace")
        ### END SOLUTION

    def save(self, path) -> None:
        """Write JSON: {"kind": "bpe", "pattern", "merges": [[a, b], ...],
        "special_tokens": [...]}; ids follow from the order of the lists."""
        state = {
            "kind": "bpe",
            "version": 1,
            "pattern": self.pattern,
            "merges": [list(p) for p in self.merges],
            "special_tokens": self.special_tokens,
        }
        Path(path).write_text(json.dumps(state), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "BPETokenizer":
        state = _read_state(path, "bpe")
        return cls.from_merges(
            state["merges"], state["special_tokens"], state["pattern"]
        )

    @classmethod
    def from_merges(cls, merges, special_tokens=(), pattern=WORD_PATTERN):
        """A tokenizer with these merges, e.g. the first k of a trained one."""
        for k, (a, b) in enumerate(merges):
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise ValueError(
                    f"merge {k} refers to ids ({a}, {b}), which are not defined "
                    f"before it; merges must only use bytes and earlier merges"
                )
        tok = cls(special_tokens, pattern=pattern)
        tok._set_merges(merges)
        return tok

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={self.special_tokens})"
        )


# %% [markdown]
# ## 5. Checks
#
# The fast trainer must pick exactly the merges of the loop version: first on
# the hand-worked example, then on a generated text with many ties.

# %%
assert BPETokenizer().train("tatata tat at", 300).merges == hand_worked

rng = np.random.default_rng(0)
lexicon = ["".join(rng.choice(list("etaoinsh"), size=n % 8 + 1)) for n in range(160)]
lexicon += ["the", "tea", "é", "日本", "🙂"]
generated = " ".join(rng.choice(lexicon, size=2000)) + "\n"
fast = BPETokenizer().train(generated, 320)
assert fast.merges == train_naive(generated, 320)
print(fast)

# %% [markdown]
# Encoding by rank must give the tokens that replaying every merge, in the order
# learned, gives on each chunk:


# %%
def encode_by_replay(tok, text):
    ids = []
    for chunk in re.findall(WORD_PATTERN, text):
        seq = list(chunk.encode("utf-8"))
        for rank, pair in enumerate(tok.merges):
            seq = merge_pair(seq, pair, 256 + rank)
        ids += seq
    return ids


assert fast.encode(generated) == encode_by_replay(fast, generated)
assert len(fast.encode(generated)) < len(_utf8(generated))

# %% [markdown]
# Encoding must give back the text for every string, not only for text like
# the training corpus.

# %%
hard = [
    "",
    " ",
    "\n",
    "\t \n  ",
    "naïve café, déjà vu",
    "cafe\u0301 vs caf\u00e9",
    "日本語のテキスト",
    "🙂👍🏽👨‍👩‍👧",
    "a\u0308\u0301\u0327",
    "\x00\x7f\uffff",
    "\udc80\udcff lone surrogates",
]
for s in hard:
    assert fast.decode(fast.encode(s)) == s, s
noise = bytes(rng.integers(0, 256, size=300, dtype=np.uint8))
noisy = noise.decode("utf-8", "surrogateescape")
assert fast.decode(fast.encode(noisy)) == noisy

# %% [markdown]
# Special tokens come out whole, wherever they sit, and save and load give the
# same tokenizer.

# %%
import tempfile

eot = "<|endoftext|>"
spec = BPETokenizer(special_tokens=[eot]).train(generated + eot + generated, 320)
assert spec.vocab_size == 320 and spec.special_ids[eot] == 319
text = "the tea<|endoftext|>eat"
assert spec.encode(text) == spec.encode("the tea") + [319] + spec.encode("eat")
assert spec.decode(spec.encode(text)) == text
with tempfile.TemporaryDirectory() as tmp:
    spec.save(Path(tmp) / "bpe.json")
    again = BPETokenizer.load(Path(tmp) / "bpe.json")
assert again.merges == spec.merges
assert all(again.encode(s) == spec.encode(s) for s in [*hard, text, generated])

# %% [markdown]
# ## 6. Systems: what the vocabulary size buys and costs
#
# Measured on Tiny Shakespeare (about 1.1 MB) when it has been downloaded,
# otherwise on the small generated text that comes with the course. First,
# the two trainers on the first 50,000 characters, to 48 merges:

# %%
import time

from tito.datasets import load_text
from tito.errors import TitoError

try:
    corpus = load_text("tinyshakespeare", download=False)
except TitoError:
    print("Tiny Shakespeare is not downloaded (`tito data download tinyshakespeare`);")
    print("measuring on the generated text instead.")
    corpus = load_text("tiny")
print(f"corpus: {len(corpus):,} characters, {len(_utf8(corpus)):,} bytes")

head = corpus[:50_000]
start = time.perf_counter()
slow_merges = train_naive(head, 256 + 48)
naive_s = time.perf_counter() - start
start = time.perf_counter()
fast_merges = BPETokenizer().train(head, 256 + 48).merges
fast_s = time.perf_counter() - start
assert fast_merges == slow_merges
print(f"48 merges: loop version {naive_s:.2f} s, in-place counts {fast_s:.3f} s")

# %% [markdown]
# Training stops after the same merges whatever the target, so one run to
# 2,048 tokens gives every smaller vocabulary as a prefix of its merge list.
# For each size: how many bytes one token carries on average, and what that
# means for a model with width 128 trained on batches of 32 x 128 tokens.

# %%
start = time.perf_counter()
big = BPETokenizer().train(corpus, 2048)
print(f"trained to {big.vocab_size} tokens in {time.perf_counter() - start:.1f} s")

n_bytes = len(_utf8(corpus))
chars = CharTokenizer(corpus)
char_ids = chars.encode(corpus)
rows = [("characters", chars.vocab_size, char_ids)]
# A small corpus may run out of pairs before 2,048; then its last size is used.
sizes = sorted({n for n in [256, 512, 1024, 2048] if n < big.vocab_size})
for size in [*sizes, big.vocab_size]:
    sub = BPETokenizer.from_merges(big.merges[: size - 256])
    rows.append((f"BPE {size}", sub.vocab_size, sub.encode(corpus)))

width, batch, context = 128, 32, 128
print(
    f"{'tokenizer':<11}{'vocab':>6}{'tokens':>10}{'bytes/tok':>10}{'last tok':>9}"
    f"{'emb KB':>8}{'+Adam KB':>9}{'logits MB':>10}{'ctx bytes':>10}"
)
for name, vocab, ids in rows:
    per_token = n_bytes / len(ids)
    learned = name.startswith("BPE") and vocab > 256
    last_seen = np.count_nonzero(np.asarray(ids) == vocab - 1) if learned else "-"
    emb = vocab * width * 4  # float32 table
    logits = batch * context * vocab * 4  # one batch of output scores
    print(
        f"{name:<11}{vocab:>6}{len(ids):>10,}{per_token:>10.2f}{last_seen:>9}"
        f"{emb / 1e3:>8.0f}{4 * emb / 1e3:>9.0f}{logits / 1e6:>10.1f}"
        f"{context * per_token:>10.0f}"
    )
gpt2_table = 50_257 * 768 * 4
print(f"for scale: a 50,257 x 768 float32 table is {gpt2_table / 1e6:.0f} MB")

# %% [markdown]
# Reading the table:
#
# - **Sequence length.** Each doubling of the vocabulary packs more text into
#   one token, with diminishing returns. The corpus, and so each epoch, shrinks
#   by that factor; a context of 128 tokens sees that many more bytes of play.
#   Attention costs grow with the square of the number of tokens, so covering
#   the same text with half the tokens makes attention about 4 times cheaper.
# - **Embedding memory.** The table holds `vocab x width` floats; training with
#   Adam keeps the weight, its gradient and two moments (x4). With a separate
#   output layer of the same size, double it again. At width 128 even 2,048
#   tokens are small; at GPT-2's size (50,257 tokens, width 768) the table
#   alone is the size printed on the last line.
# - **The output layer.** The scores over the vocabulary for every position of
#   a batch (`logits MB`) grow linearly with the vocabulary, and so do the
#   softmax and its gradient. For a small model this, not the embedding, is
#   the cost that a large vocabulary makes visible.
# - **Rare tokens.** Every token needs enough examples to learn its vector.
#   `last tok` counts how often the last merge learned appears in the encoded
#   corpus: the larger the vocabulary, the fewer examples its newest tokens
#   get.

"""Checks for module 10: the character and byte-pair tokenizers.

Oracles: sorted character lists, a BPE trainer that recounts every pair after
each merge (written here, independent of the module), replaying the merges in
order for encoding, a hand-worked merge list, and round trips on hard strings.
"""

import json
import re
from collections import Counter

import numpy as np
import pytest
from tinytorch.text.tokenizers import (
    WORD_PATTERN,
    BPETokenizer,
    CharTokenizer,
    merge_pair,
    pair_counts,
)

HARD = [
    "",
    " ",
    "  ",
    "\n",
    "\t",
    "\r\n",
    "\u00a0",
    "\u3000",
    "naïve café, déjà vu!",
    "cafe\u0301 caf\u00e9",
    "a\u0308\u0301\u0327",
    "\u0301 starts with a combining mark",
    "日本語のテキスト、句読点。",
    "한국어 Ελληνικά русский עברית العربية",
    "🙂👍🏽👨‍👩‍👧🏳️‍🌈",
    "\x00\x01\x7f\x80\uffff",
    "\U0010ffff\U0001f600",
    "\ud800\udfff lone surrogates \udc80",
    "x" * 500,
    " " * 300,
    "foo_bar-baz 123,456.78 $5 @me #tag",
]


def naive_merges(text, vocab_size, special_tokens=()):
    """Recount every pair after each merge; ties go to the smallest pair."""
    pieces = [text]
    for s in special_tokens:
        pieces = [part for p in pieces for part in p.split(s)]
    chunks = Counter(c for p in pieces for c in re.findall(WORD_PATTERN, p))
    seqs = [list(c.encode("utf-8", "surrogatepass")) for c in chunks]
    freqs = list(chunks.values())
    merges = []
    while 256 + len(merges) + len(special_tokens) < vocab_size:
        counts = Counter()
        for seq, freq in zip(seqs, freqs, strict=True):
            for i in range(len(seq) - 1):
                counts[seq[i], seq[i + 1]] += freq
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        new_id = 256 + len(merges)
        merges.append(best)
        for k, seq in enumerate(seqs):
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and (seq[i], seq[i + 1]) == best:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[k] = out
    return merges


def replay_encode(merges, text):
    """Encode each chunk by applying every merge in the order learned."""
    ids = []
    for chunk in re.findall(WORD_PATTERN, text):
        seq = list(chunk.encode("utf-8", "surrogatepass"))
        for rank, pair in enumerate(merges):
            seq = merge_pair(seq, pair, 256 + rank)
        ids += seq
    return ids


def generated_text(seed=0, n_words=3000):
    """Random words over a small alphabet (many ties), some non-ASCII."""
    rng = np.random.default_rng(seed)
    letters = list("etaoinshrd")
    lexicon = ["".join(rng.choice(letters, size=k % 9 + 1)) for k in range(300)]
    lexicon += ["é", "日本", "🙂", "x2", "42", "!!", "--"]
    seps = rng.choice([" ", " ", " ", "\n", ", ", ".\n\n", "  "], size=n_words)
    words = rng.choice(lexicon, size=n_words)
    return "".join(w + s for w, s in zip(words, seps, strict=True))


@pytest.fixture(scope="module")
def trained():
    return BPETokenizer().train(generated_text(), 420)


# -- characters ----------------------------------------------------------


def test_char_vocabulary_is_sorted_corpus_characters():
    corpus = "to be, or not to be:\nthat is the question 日🙂"
    tok = CharTokenizer(corpus)

    expected = sorted(set(corpus))
    assert tok.chars == expected
    assert tok.vocab_size == len(expected)
    assert tok.encode(corpus) == [expected.index(c) for c in corpus]
    assert tok.decode(tok.encode(corpus)) == corpus
    assert tok.decode(np.array(tok.encode("not"))) == "not"
    assert tok.encode("") == [] and tok.decode([]) == ""


def test_char_unseen_character_is_an_error_naming_it():
    tok = CharTokenizer("abc ")
    assert tok.encode("cab") == [3, 1, 2]
    with pytest.raises(ValueError, match=r"'z'.*position 2"):
        tok.encode("abz")


def test_char_unknown_replaces_unseen_characters():
    tok = CharTokenizer("abc", unknown="?")
    assert tok.chars == ["?", "a", "b", "c"]
    assert tok.encode("azé") == [1, 0, 0]
    assert tok.decode(tok.encode("a€b")) == "a?b"

    inside = CharTokenizer("ab_", unknown="_")
    assert inside.vocab_size == 3
    assert inside.encode("bx") == [inside.chars.index("b"), inside.chars.index("_")]


def test_char_decode_out_of_range_names_the_id():
    tok = CharTokenizer("abc")
    assert tok.decode([2, 0]) == "ca"
    with pytest.raises(ValueError, match=r"\b3\b.*\b3\b"):
        tok.decode([0, 3])


def test_char_save_load_gives_the_same_tokenizer(tmp_path):
    corpus = "Hark! 日本\n\ud800"
    tok = CharTokenizer(corpus, unknown="?")
    tok.save(tmp_path / "chars.json")
    again = CharTokenizer.load(tmp_path / "chars.json")

    assert json.loads((tmp_path / "chars.json").read_text())["kind"] == "char"
    assert again.chars == tok.chars and again.unknown == "?"
    for s in [corpus, "Hark, who?", ""]:
        assert again.encode(s) == tok.encode(s)


# -- pairs and merges ----------------------------------------------------


def test_pair_counts_and_merge_pair_by_hand():
    assert pair_counts([1, 2, 1, 2, 3]) == {(1, 2): 2, (2, 1): 1, (2, 3): 1}
    assert pair_counts([4, 4, 4]) == {(4, 4): 2}
    assert pair_counts([5]) == {}
    assert merge_pair([1, 2, 1, 2, 3], (1, 2), 9) == [9, 9, 3]
    assert merge_pair([4, 4, 4], (4, 4), 9) == [9, 4]
    assert merge_pair([4, 4, 4, 4], (4, 4), 9) == [9, 9]
    assert merge_pair([2, 1], (1, 2), 9) == [2, 1]
    assert merge_pair([], (1, 2), 9) == []


# -- byte-pair training --------------------------------------------------


def test_bpe_merges_of_a_hand_worked_corpus():
    # Chunks: "tatata", " tat", " at". `at` and `ta` tie at 4; (97, 116) is the
    # smaller pair. Then t+at twice; then single pairs broken by id order.
    t, a, sp = ord("t"), ord("a"), ord(" ")
    tok = BPETokenizer().train("tatata tat at", 300)

    assert tok.merges == [(a, t), (t, 256), (sp, 256), (sp, 257), (256, a), (257, 260)]
    assert tok.vocab_size == 262  # stopped early: nothing left to merge
    assert tok.vocab[261] == b"tatata"
    assert tok.encode("tatata tat at") == [261, 259, 258]


@pytest.mark.parametrize("seed,vocab_size", [(0, 300), (1, 400), (2, 600)])
def test_bpe_incremental_training_equals_recounting(seed, vocab_size):
    text = generated_text(seed, n_words=1500)
    tok = BPETokenizer().train(text, vocab_size)

    assert tok.merges == naive_merges(text, vocab_size)
    assert tok.vocab_size == 256 + len(tok.merges)


def test_bpe_training_is_deterministic(trained):
    again = BPETokenizer().train(generated_text(), 420)
    assert again.merges == trained.merges
    assert len(set(trained.vocab)) == trained.vocab_size


def test_bpe_encode_equals_replaying_the_merges(trained):
    for text in [generated_text(5, 400), *HARD]:
        assert trained.encode(text) == replay_encode(trained.merges, text)
    assert trained.encode(generated_text(6, 100)) == trained.encode(
        generated_text(6, 100)
    )


def test_bpe_vocab_size_counts_bytes_and_special_tokens():
    text = generated_text(3, 1000)
    tok = BPETokenizer(special_tokens=["<|endoftext|>", "<pad>"]).train(text, 300)
    assert tok.vocab_size == 300 and len(tok.merges) == 42
    assert tok.special_ids == {"<|endoftext|>": 298, "<pad>": 299}

    smallest = BPETokenizer(special_tokens=["<pad>"]).train(text, 257)
    assert smallest.merges == [] and smallest.encode("<pad>a") == [256, 97]
    with pytest.raises(ValueError, match="257"):
        BPETokenizer(special_tokens=["<pad>"]).train(text, 256)


# -- round trips ---------------------------------------------------------


@pytest.mark.parametrize("s", HARD, ids=range(len(HARD)))
def test_bpe_round_trips_hard_strings(trained, s):
    assert trained.decode(trained.encode(s)) == s
    assert BPETokenizer().encode(s) == list(s.encode("utf-8", "surrogatepass"))


def test_bpe_round_trips_random_bytes_and_code_points(trained):
    rng = np.random.default_rng(42)
    for _ in range(100):
        raw = bytes(rng.integers(0, 256, size=rng.integers(0, 80), dtype=np.uint8))
        s = raw.decode("utf-8", "surrogateescape")
        assert trained.decode(trained.encode(s)) == s
    for _ in range(100):
        s = "".join(map(chr, rng.integers(0, 0x110000, size=rng.integers(0, 40))))
        assert trained.decode(trained.encode(s)) == s


def test_bpe_decode_errors_and_invalid_utf8(trained):
    with pytest.raises(ValueError, match=str(trained.vocab_size)):
        trained.decode([0, trained.vocab_size])
    with pytest.raises(ValueError, match="-1"):
        trained.decode([-1])
    # A lone continuation byte (a sampled id, never one from encode) decodes
    # to the replacement character rather than failing.
    assert trained.decode([104, 0x80, 105]) == "h\ufffdi"


# -- special tokens ------------------------------------------------------


def test_special_tokens_are_never_split():
    eot, sep = "<|endoftext|>", "<|end|>"
    base = generated_text(4, 800)
    text = base + eot + base.upper() + sep + eot + base
    tok = BPETokenizer(special_tokens=[sep, eot]).train(text, 360)
    e, s = tok.special_ids[eot], tok.special_ids[sep]

    assert tok.merges == naive_merges(text, 360, [sep, eot])
    assert tok.encode(eot) == [e] and tok.encode(sep) == [s]
    assert tok.encode(eot + eot + sep) == [e, e, s]
    joined = "tea" + eot + "ta" + sep + "<|end"
    assert tok.encode(joined) == (
        tok.encode("tea") + [e] + tok.encode("ta") + [s] + tok.encode("<|end")
    )
    assert tok.decode(tok.encode(joined)) == joined
    learned = tok.vocab[256 : 256 + len(tok.merges)]
    assert not any(b"|>" + b"t" in v or b"endoftext" in v for v in learned)


# -- save and load -------------------------------------------------------


def test_bpe_save_load_gives_identical_encodings(tmp_path, trained):
    tok = BPETokenizer(special_tokens=["<|endoftext|>"]).train(
        generated_text(7, 1500), 400
    )
    tok.save(tmp_path / "bpe.json")
    again = BPETokenizer.load(tmp_path / "bpe.json")

    state = json.loads((tmp_path / "bpe.json").read_text())
    assert state["kind"] == "bpe" and len(state["merges"]) == len(tok.merges)
    assert again.merges == tok.merges and again.vocab == tok.vocab
    for s in [*HARD, generated_text(8, 300), "a<|endoftext|>b"]:
        assert again.encode(s) == tok.encode(s)
        assert again.decode(again.encode(s)) == s


def test_loading_the_wrong_kind_of_file_is_an_error(tmp_path):
    CharTokenizer("abc").save(tmp_path / "chars.json")
    with pytest.raises(ValueError, match="char"):
        BPETokenizer.load(tmp_path / "chars.json")
    BPETokenizer().train("abab abab", 258).save(tmp_path / "bpe.json")
    with pytest.raises(ValueError, match="bpe"):
        CharTokenizer.load(tmp_path / "bpe.json")

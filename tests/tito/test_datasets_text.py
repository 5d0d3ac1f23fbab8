"""load_text: the real corpus from a file, a folder or the cache; "tiny" generated."""

import dataclasses

import pytest
from datasets_helpers import md5, refused_url

from tito.datasets import load_text, store
from tito.datasets.display import Quiet
from tito.errors import TitoError

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50


@pytest.fixture
def official(monkeypatch):
    real = store.dataset("tinyshakespeare")

    def use(**changes):
        ds = dataclasses.replace(real, **changes)
        monkeypatch.setattr(store, "all_datasets", lambda: [ds])
        monkeypatch.setattr(store, "dataset", lambda name: ds)

    return use


def test_file_and_folder_give_the_text_and_an_official_copy_is_quiet(
    tmp_path, official
):
    path = tmp_path / "tinyshakespeare.txt"
    path.write_text(TEXT, encoding="utf-8")
    official(md5=md5(TEXT.encode()))
    display = Quiet()

    assert load_text("tinyshakespeare", path, display=display) == TEXT
    assert load_text("tinyshakespeare", tmp_path, display=display) == TEXT
    assert display.notes == []


def test_other_copy_is_used_with_a_note_naming_both_checksums(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text(TEXT, encoding="utf-8")
    display = Quiet()

    assert load_text("tinyshakespeare", path, display=display) == TEXT

    official_md5 = store.dataset("tinyshakespeare").md5
    assert len(display.notes) == 1
    assert md5(TEXT.encode()) in display.notes[0] and official_md5 in display.notes[0]


def test_cache_is_read_when_no_folder_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    (tmp_path / "tinyshakespeare.txt").write_text(TEXT, encoding="utf-8")

    assert load_text("tinyshakespeare", display=Quiet()) == TEXT


def test_missing_file_names_the_place_and_the_way_out(tmp_path):
    with pytest.raises(TitoError) as e:
        load_text("tinyshakespeare", tmp_path, display=Quiet())

    assert str(tmp_path / "tinyshakespeare.txt") in e.value.what
    assert "--data-dir" in e.value.todo


def test_not_utf8_is_refused(tmp_path):
    path = tmp_path / "tinyshakespeare.txt"
    path.write_bytes(b"abc\xff\xfe")

    with pytest.raises(TitoError, match="not UTF-8 text"):
        load_text("tinyshakespeare", path, display=Quiet())


def test_offline_with_no_copy_leaves_nothing_behind(tmp_path, monkeypatch, official):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "cache"))
    official(url=refused_url())

    with pytest.raises(TitoError) as e:
        load_text("tinyshakespeare", display=Quiet())

    assert "Could not reach" in e.value.what
    assert "tinyshakespeare.txt" in e.value.todo and "--data-dir" in e.value.todo
    assert list((tmp_path / "cache").iterdir()) == []


def test_tiny_is_generated_offline_and_the_same_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "nowhere"))

    text = load_text("tiny")

    assert text == load_text("tiny")
    assert 50_000 < len(text) < 500_000
    lines = text.splitlines()
    speakers = [line for line in lines if line.endswith(":")]
    assert len(speakers) == 2000
    assert len(set(text)) > 30  # letters, capitals, punctuation, newline
    assert not (tmp_path / "nowhere").exists()


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(TitoError) as e:
        load_text("wikitext")

    assert "tiny" in e.value.todo and "tinyshakespeare" in e.value.todo
    assert "cifar10" not in e.value.todo

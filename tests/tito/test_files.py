"""Atomic writes and timestamped backups."""

import os

from tito.files import backup, write_atomic


def test_write_atomic_writes_and_reports_no_change(tmp_path):
    path = tmp_path / "a" / "f.txt"
    assert write_atomic(path, "one") is True
    assert path.read_text() == "one"
    assert write_atomic(path, "one") is False
    assert write_atomic(path, b"two") is True
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]  # no temp file left


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr("tito.files.os.replace", boom)
    try:
        write_atomic(path, "new")
    except OSError:
        pass
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_backups_never_collide(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text("v1")
    first = backup(path)
    path.write_text("v2")
    second = backup(path)
    assert first != second
    assert first.read_text() == "v1" and second.read_text() == "v2"
    assert first.name.startswith("nb.backup-") and first.suffix == ".ipynb"


def test_new_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.py", "x = 1\n")
    finally:
        os.umask(old)
    assert (tmp_path / "new.py").stat().st_mode & 0o777 == 0o640


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "run.sh"
    path.write_text("old")
    path.chmod(0o755)
    write_atomic(path, "new")
    assert path.stat().st_mode & 0o777 == 0o755

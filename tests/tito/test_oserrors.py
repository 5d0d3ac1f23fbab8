"""File-system failures a user can cause become two lines, never a traceback."""

import errno
import sys

import pytest
from conftest import tito

from tito.errors import from_os_error


def test_init_on_a_file_is_refused(course, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    out = tito("init", str(target))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and f"{target} is a file" in lines[0], out.stderr
    assert target.read_text() == "mine"


def test_init_below_a_file_is_refused(course, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    out = tito("init", str(target / "ws"))
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 2
    assert "is a file, not a folder" in out.stderr


def test_mapping_names_what_failed_and_the_path():
    denied = from_os_error(PermissionError(errno.EACCES, "Permission denied", "/x/y"))
    assert denied.what == "Permission denied: /x/y." and "writable" in denied.todo
    other = from_os_error(OSError(errno.EIO, "Input/output error", "/a b"))
    assert other.what == "Input/output error ('/a b')."


@pytest.mark.parametrize(
    "args, target",
    [
        (["init", "WS2"], "tito.workspace.init_workspace"),
        (["module", "start", "2"], "tito.workspace.start_module"),
        (["module", "reset", "2", "--yes"], "tito.workspace.reset_module"),
    ],
)
def test_permission_denied_is_two_lines(workspace, monkeypatch, capsys, args, target):
    """Root ignores folder permissions, so the failing write is simulated."""
    import importlib

    from tito.cli import app

    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(workspace.root))

    monkeypatch.setattr("tito.processes.catch_signals", lambda: None)
    if "reset" in args:  # a started module: there is something to reset
        from tito.workspace import start_module

        start_module(workspace, workspace.course.module(2))
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), name, refuse)
    args = [str(workspace.root.parent / "ws2") if a == "WS2" else a for a in args]
    argv = ["tito", *args, "--workspace", str(workspace.root)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        app.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0] == f"error: Permission denied: {workspace.root}."

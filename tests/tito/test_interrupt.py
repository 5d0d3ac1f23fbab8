"""Ctrl-C or SIGTERM while tito waits on a child: the child's group is stopped,
scratch folders are removed, and tito says "Interrupted."."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _interrupt_tito(args, pidfile, sig, tmp_path, env=None):
    """Start tito, wait until its child wrote `pidfile`, send `sig` to tito."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    full = dict(os.environ, TMPDIR=str(scratch), **(env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tito", *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (pidfile.is_file() and pidfile.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pidfile.read_text())
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)

    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the child outlived tito"
    assert err.strip().splitlines()[-1] == "Interrupted.", err
    assert "tito/" not in err, err  # no traceback of tito's own
    assert proc.returncode == 130
    return scratch


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_module_test_stops_pytest_and_removes_its_scratch(workspace, tmp_path, sig):
    ws = ["--workspace", str(workspace.root)]
    subprocess.run([sys.executable, "-m", "tito", "module", "start", "2", *ws])
    pidfile = tmp_path / "pid"
    env = {"TITO_FIXTURE_HANG": "1", "TITO_FIXTURE_PIDFILE": str(pidfile)}
    scratch = _interrupt_tito(["module", "test", "2", *ws], pidfile, sig, tmp_path, env)
    assert not list(scratch.glob("tito-checks-*"))


def test_notebook_run_stops_the_kernel(workspace, tmp_path):
    ws = ["--workspace", str(workspace.root)]
    subprocess.run([sys.executable, "-m", "tito", "module", "start", "2", *ws])
    path = workspace.notebook(workspace.course.module(2))
    pidfile = tmp_path / "pid"
    nb = nbformat.read(path, as_version=4)
    hang = f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))"
    nb.cells.insert(0, nbformat.v4.new_code_cell(hang + "\ntime.sleep(600)"))
    nbformat.write(nb, path)
    _interrupt_tito(
        ["module", "test", "2", "--notebook", *ws], pidfile, signal.SIGTERM, tmp_path
    )


def test_milestone_run_stops_the_script(workspace, tmp_path, monkeypatch):
    from tito import progress

    with progress.update(workspace.root) as record:  # open the gate by hand
        digest = workspace.code_hash(workspace.course.module(2))
        record["modules"]["02_doubling"] = {"test": {"passed": True, "sha256": digest}}
    pidfile = tmp_path / "pid"
    args = ["milestone", "run", "1", "--workspace", str(workspace.root)]
    _interrupt_tito([*args, "--hang", str(pidfile)], pidfile, signal.SIGINT, tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's prctl")
def test_a_child_ends_when_tito_is_killed_outright(workspace, tmp_path):
    from tito import progress

    with progress.update(workspace.root) as record:  # open the gate by hand
        digest = workspace.code_hash(workspace.course.module(2))
        record["modules"]["02_doubling"] = {"test": {"passed": True, "sha256": digest}}
    pidfile = tmp_path / "pid"
    args = ["milestone", "run", "1", "--workspace", str(workspace.root)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tito", *args, "--hang", str(pidfile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (pidfile.is_file() and pidfile.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pidfile.read_text())
    proc.kill()  # SIGKILL: tito runs no code of its own
    proc.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the child outlived tito"

"""Child processes that never outlive tito, and the signals that stop tito.

Every child (pytest, a notebook kernel, a milestone script) runs in its own
process group, so that stopping it stops whatever it started too. Ctrl-C and
SIGTERM both become KeyboardInterrupt inside tito (see `catch_signals`), so
every `finally` runs: children are stopped and scratch folders removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

INTERRUPTED = False  # set when SIGINT or SIGTERM arrived


def catch_signals() -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt, remembering that they came."""

    def interrupt(signum, frame):
        global INTERRUPTED
        INTERRUPTED = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """Popen in a new process group (its own session)."""
    return subprocess.Popen(command, start_new_session=True, **kwargs)


def stop(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGINT to the child's group, then SIGKILL after `grace` seconds; reap it."""
    if proc.poll() is None:
        stop_group(proc.pid, grace, lambda: proc.poll() is not None)
    else:
        stop_group(proc.pid, 0.0)  # its own children may still run
    proc.wait()


def stop_group(pgid: int, grace: float = 0.0, done=lambda: False) -> None:
    """Stop every process in group `pgid`: SIGINT, a grace period, then SIGKILL."""
    if grace > 0 and _signal(pgid, signal.SIGINT):
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not done():
            time.sleep(0.05)
    _signal(pgid, signal.SIGKILL)


def _signal(pgid: int, sig) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def run(command: list[str], timeout: float | None = None, **kwargs):
    """Run to the end with output captured: (exit code or None on timeout, output).

    On a timeout the whole group is killed; on any interruption it is stopped
    before the interruption goes on.
    """
    proc = start(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc.pid)
        out, _ = proc.communicate()
        return None, out.decode("utf-8", "replace")
    except BaseException:
        stop(proc)
        proc.stdout.close()
        raise
    return proc.returncode, out.decode("utf-8", "replace")


def call(command: list[str], own_group: bool = True, **kwargs) -> int:
    """Run with the terminal as its output; stopped with tito if tito is stopped.

    With `own_group=False` the child shares tito's terminal group, so Ctrl-C
    reaches it directly (for interactive programs such as Jupyter); if tito is
    interrupted, the child gets SIGINT again, then SIGKILL after a grace period.
    """
    proc = (
        start(command, **kwargs) if own_group else subprocess.Popen(command, **kwargs)
    )
    try:
        return proc.wait()
    except BaseException:
        if own_group:
            stop(proc)
        else:
            _stop_one(proc, grace=5.0)
        raise


def _stop_one(proc: subprocess.Popen, grace: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()

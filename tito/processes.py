"""Child processes that never outlive tito, and the signals that stop tito.

Every child (pytest, a notebook kernel, a milestone script) runs in its own
process group, so that stopping it stops whatever it started too. Ctrl-C,
SIGTERM and SIGHUP (a closed terminal) all become KeyboardInterrupt inside
tito (see `catch_signals`), so every `finally` runs: children are stopped and
scratch folders removed. If tito itself is killed outright, Linux sends each
child SIGINT, as if Ctrl-C had been pressed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

INTERRUPTED = False  # set when SIGINT, SIGTERM or SIGHUP arrived


def catch_signals() -> None:
    """Turn SIGINT, SIGTERM and SIGHUP into KeyboardInterrupt, remembering
    that one came."""

    def interrupt(signum, frame):
        global INTERRUPTED
        INTERRUPTED = True
        raise KeyboardInterrupt

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):  # SIGHUP is POSIX only
            signal.signal(getattr(signal, name), interrupt)


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """Popen in a new process group (its own session), ended with tito."""
    return subprocess.Popen(
        command, start_new_session=True, preexec_fn=_ended_with_parent(), **kwargs
    )


def _ended_with_parent():
    """A preexec_fn asking Linux to send the child SIGINT when tito dies, or None
    elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # loaded before the fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arrange():
        PR_SET_PDEATHSIG = 1
        prctl(PR_SET_PDEATHSIG, int(signal.SIGINT))
        if os.getppid() != parent:  # tito died before the request was made
            os._exit(1)

    return arrange


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

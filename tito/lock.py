"""An exclusive lock on a file, so two tito processes take turns on a workspace."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from tito.errors import TitoError


@contextlib.contextmanager
def locked(path: Path, timeout: float = 30.0):
    """Hold an exclusive lock on `path` (created if needed) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        _acquire(handle, path, timeout)
        try:
            yield
        finally:
            _release(handle)


def _acquire(handle, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _try_lock(handle):
        if time.monotonic() > deadline:
            raise TitoError(
                f"Another tito process has held {path} for over {timeout:.0f} s.",
                "Wait for it to finish, or stop it, then run the command again.",
            )
        time.sleep(0.05)


def _try_lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _release(handle) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

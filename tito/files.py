"""Safe file writes: atomic replacement and timestamped backups.

Every write that could replace something a learner made goes through here,
so that a crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def write_atomic(path: Path, content: str | bytes) -> bool:
    """Replace `path` with `content` in one step; return False if it was already so."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_bytes() == data:
        return False

    mode = path.stat().st_mode & 0o777 if path.is_file() else _new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; keep the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _new_file_mode() -> int:
    """What `open(path, "w")` would give a new file: 0666 less the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def backup(path: Path) -> Path:
    """Copy `path` beside itself as `name.backup-YYYYmmdd-HHMMSS[-n].ext`."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.backup-{stamp}-{n}{path.suffix}")

    shutil.copy2(path, candidate)
    return candidate

"""A workspace's progress: `.tito/progress.json`, read strictly, written atomically.

Every change is a read-modify-write under `.tito/lock`, so two tito processes
on one workspace cannot lose each other's records. A file that is not what
tito wrote is reported with its path and left exactly as it is.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from tito.errors import TitoError
from tito.files import write_atomic
from tito.lock import locked

VERSION = 1


def empty() -> dict:
    return {"version": VERSION, "modules": {}, "milestones": {}}


def progress_path(root: Path) -> Path:
    return Path(root) / ".tito" / "progress.json"


def load(root: Path) -> dict:
    """The progress record of the workspace at `root` (empty if none yet)."""
    path = progress_path(root)
    if not path.exists():
        return empty()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _corrupt(path, f"it is not valid JSON ({e})") from None
    _validate(path, data)
    return data


@contextlib.contextmanager
def update(root: Path):
    """Yield the progress record to change; it is saved when the block ends."""
    with locked(Path(root) / ".tito" / "lock"):
        data = load(root)
        yield data
        save(root, data)


def save(root: Path, data: dict) -> None:
    _validate(progress_path(root), data)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    write_atomic(progress_path(root), text)


def _validate(path: Path, data) -> None:
    if not isinstance(data, dict):
        raise _corrupt(path, "its top level is not an object")
    if data.get("version") != VERSION:
        raise _corrupt(path, f"its 'version' is {data.get('version')!r}, not {VERSION}")
    for key in ("modules", "milestones"):
        if not isinstance(data.get(key), dict):
            raise _corrupt(path, f"'{key}' is missing or not an object")
        for name, record in data[key].items():
            if not isinstance(record, dict):
                raise _corrupt(path, f"'{key}.{name}' is not an object")


def _corrupt(path: Path, why: str) -> TitoError:
    return TitoError(
        f"The progress file {path} is unreadable: {why}.",
        "Fix it by hand or move it aside (tito records progress afresh); "
        "tito will not overwrite it.",
    )

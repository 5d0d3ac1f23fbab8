"""Unpack a .tar.gz safely: every member must land inside the target folder.

Absolute names, `..` escapes, links pointing outside the target, and device
or fifo members are refused before anything is written. Unpacking happens in
a hidden folder beside the result, renamed into place only when complete.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

from tito.errors import TitoError


def unpack(archive: Path, parent: Path, folder: str) -> Path:
    """Unpack `archive`, which holds `folder/`, into `parent/folder`; return that.

    Nothing appears at `parent/folder` until the whole archive is unpacked, and
    an existing `parent/folder` is never replaced.
    """
    archive, parent = Path(archive), Path(parent)
    target = parent / folder
    if target.exists():
        raise TitoError(
            f"{target} already exists; {archive.name} was not unpacked over it.",
            "Move that folder away, or pass it with --data-dir if it is complete.",
        )
    staging = parent / f".{folder}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)

    try:
        _unpack_into(archive, staging)
        if not (staging / folder).is_dir():
            raise TitoError(
                f"{archive} holds no folder '{folder}/'.",
                "Delete it and download it again.",
            )
        os.replace(staging / folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _unpack_into(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            links = {_parts(m.name) for m in members if m.issym()}
            for member in members:
                check_member(member, archive, links)
            staging.mkdir(parents=True)
            _extract_all(tar, members, staging)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise TitoError(
            f"{archive} could not be unpacked: {e}.",
            "Delete it and download it again, or pass an extracted copy "
            "with --data-dir.",
        ) from None


def check_member(member: tarfile.TarInfo, archive: Path, links=frozenset()) -> None:
    """Refuse a member that could write outside the folder it is unpacked into.

    `links` holds the split names of the archive's symbolic links: a path that
    goes through one of them cannot be judged by its text, so it is refused.
    """
    name = member.name
    pointed = os.path.join(os.path.dirname(name), member.linkname)
    problem = None
    if member.isdev() or member.isfifo():
        problem = "is a device or fifo"
    elif _escapes(name):
        problem = "would be written outside the target folder"
    elif _through(name, links) or (member.issym() and _through(pointed, links)):
        problem = "goes through a link inside the archive"
    elif member.issym() and _escapes(pointed):
        problem = f"is a link to {member.linkname}, outside the target folder"
    elif member.islnk() and _escapes(member.linkname):
        problem = f"is a hard link to {member.linkname}, outside the target folder"

    if problem:
        raise TitoError(
            f"{archive} holds a member '{name}' that {problem}; nothing was unpacked.",
            "Do not use this archive; download the official one again.",
        )


def _parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def _through(name: str, links) -> bool:
    """Does `name`, as written or normalised, pass through one of `links`?"""
    for parts in (_parts(name), _parts(os.path.normpath(name))):
        if any(parts[:i] in links for i in range(1, len(parts))):
            return True
    return False


def _escapes(name: str) -> bool:
    if not name or os.path.isabs(name) or name.startswith(("/", "\\")):
        return True
    depth = 0
    for part in name.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
        elif part not in ("", "."):
            depth += 1
        if depth < 0:
            return True
    return False


def _extract_all(tar: tarfile.TarFile, members, folder: Path) -> None:
    if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: a second guard
        tar.extractall(folder, members=members, filter="data")
    else:
        tar.extractall(folder, members=members)  # noqa: S202 (members checked)

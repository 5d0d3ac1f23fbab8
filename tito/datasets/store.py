"""The course's datasets on this machine: where each lives, whether it is there,
and how to get it there (download, check, unpack) with one call.

course.yaml names each dataset, its address, its official md5 and its layout;
this module is the only one that turns those into files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

from tito.course import Dataset, load_course
from tito.datasets import archive, download
from tito.datasets.cache import data_home
from tito.datasets.display import Display
from tito.errors import TitoError


class Status(NamedTuple):
    name: str
    present: bool
    path: Path  # where it is, or where it would go
    size_bytes: int  # on disk; 0 when absent
    expected_bytes: int  # the download's size, from course.yaml


def dataset(name: str) -> Dataset:
    return load_course().dataset(name)


def all_datasets() -> list[Dataset]:
    return load_course().datasets


def download_name(ds: Dataset) -> str:
    """The file the address serves, as saved locally (`cifar-10-python.tar.gz`)."""
    return ds.file or Path(urlparse(ds.url).path).name


def local_path(ds: Dataset, root: Path) -> Path:
    """The folder (archives) or file (single files) a loader reads."""
    return root / (ds.folder or ds.file)


def is_present(ds: Dataset, root: Path) -> bool:
    path = local_path(ds, root)
    if ds.folder:
        return path.is_dir() and all((path / f).is_file() for f in ds.files)
    return path.is_file()


def find(ds: Dataset, data_dir: Path | str) -> Path | None:
    """The copy of `ds` that `data_dir` names, in any form the loaders accept:
    the extracted folder, a folder holding it, the archive, or the file."""
    path = Path(data_dir).expanduser()
    archive_name = download_name(ds)
    if path.is_file():
        return path if path.name in (archive_name, ds.file) or not ds.folder else None
    if not path.is_dir():
        return None
    if ds.folder and all((path / f).is_file() for f in ds.files):
        return path
    if is_present(ds, path):
        return local_path(ds, path)
    if (path / archive_name).is_file():
        return path / archive_name
    return None


def status(data_dir: Path | str | None = None) -> list[Status]:
    """Each dataset in `data_dir` (any form `find` accepts) or the cache."""
    root = Path(data_dir) if data_dir else data_home()
    rows = []
    for ds in all_datasets():
        found = find(ds, root)
        path = found or local_path(ds, root)
        size = _size(found) if found else 0
        rows.append(Status(ds.name, found is not None, path, size, ds.size))
    return rows


def ensure(
    ds: Dataset,
    root: Path | None = None,
    *,
    display: Display | None = None,
    connect_timeout: float = download.CONNECT_TIMEOUT,
    read_timeout: float = download.READ_TIMEOUT,
) -> Path:
    """Make `ds` present in `root` (default: the cache) and return its local path."""
    root = Path(root) if root else data_home()
    if is_present(ds, root):
        return local_path(ds, root)
    if local_path(ds, root).exists():
        raise TitoError(
            f"{local_path(ds, root)} exists but is incomplete; nothing was downloaded.",
            "Move it away and run the command again, or complete it by hand.",
        )

    target = root / download_name(ds)
    try:
        if not (target.is_file() and md5_of(target) == ds.md5):
            download.fetch(
                ds.url,
                target,
                ds.md5,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                display=display,
            )
    except download.DownloadFailed as e:
        raise offline_error(ds, root, e.what) from None

    if ds.archive:
        archive.unpack(target, root, ds.folder)
        target.unlink()
    return local_path(ds, root)


def offline_error(ds: Dataset, root: Path, why: str) -> TitoError:
    """What was tried, the file expected with its official md5, and the way out."""
    name = download_name(ds)
    return TitoError(
        f"{ds.name} is not in {root}, and downloading it failed: {why}",
        f"Expected {name} (md5 {ds.md5}). Run `tito data download {ds.name}` "
        "when online, or give the milestone a copy you have: "
        "`tito milestone run NN --data-dir PATH`.",
    )


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

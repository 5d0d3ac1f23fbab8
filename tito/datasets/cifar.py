"""CIFAR-10 from its official python layout, as uint8 arrays.

Reads the extracted `cifar-10-batches-py/` folder, its parent, or the
`cifar-10-python.tar.gz` archive (streamed, never unpacked to disk). Images
come out as uint8 (N, 3, 32, 32), labels as int64 (N,); the training images
are written straight into one preallocated array, so the set is held once.
Converting to float is the data loader's job, batch by batch.

A copy that is not byte-identical to the official files is still used after
every batch is validated, with a one-line note; a missing or malformed batch
is refused, naming the file.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tito.course import Dataset
from tito.datasets import store
from tito.datasets.cache import data_home
from tito.datasets.display import Display
from tito.datasets.imageset import ImageSet
from tito.datasets.pickles import load_dict
from tito.errors import TitoError

TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
TEST = "test_batch"
META = "batches.meta"
PIXELS = 3 * 32 * 32


def load_cifar10(
    data_dir: str | Path | None = None,
    *,
    download: bool = True,
    display: Display | None = None,
) -> ImageSet:
    """CIFAR-10 from `data_dir` (folder, its parent or the .tar.gz) or the cache.

    With no `data_dir` and nothing cached, it is downloaded into the cache
    (unless `download=False`); failing that, a TitoError says what to do.
    """
    ds = store.dataset("cifar10")
    display = display or Display()
    path = _locate(ds, data_dir, download, display)

    copy = _Archive(path, ds) if path.is_file() else _Folder(path, ds)
    images = _assemble(copy.batches(), path)
    if copy.differs:
        display.note(
            f"Note: {path} is not the official CIFAR-10 ({copy.differs}); "
            "its structure and shapes were checked and it is used as is."
        )
    return images


def _locate(ds: Dataset, data_dir, download: bool, display) -> Path:
    """The folder or archive to read; downloads into the cache if allowed."""
    archive_name = store.download_name(ds)
    if data_dir is None:
        root = data_home()
        if store.is_present(ds, root):
            return store.local_path(ds, root)
        if (root / archive_name).is_file():
            return root / archive_name
        if not download:
            raise store.offline_error(ds, root, "downloads were turned off.")
        return store.ensure(ds, root, display=display)

    path = Path(data_dir).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if path.name == ds.folder or (path / TRAIN[0]).exists():
            return path
        if (path / ds.folder).is_dir():
            return path / ds.folder
        if (path / archive_name).is_file():
            return path / archive_name
    raise TitoError(
        f"No CIFAR-10 at {path}: expected the {ds.folder}/ folder, a folder "
        f"holding it, or {archive_name}.",
        f"Pass one of those with --data-dir, or run `tito data download {ds.name}`.",
    )


class _Folder:
    """The extracted folder: each file read whole, checked against its official md5."""

    def __init__(self, path: Path, ds: Dataset):
        self.path, self.ds = path, ds
        self.differs = ""

    def batches(self) -> Iterator[tuple[str, bytes]]:
        for name in [META, *TRAIN, TEST]:
            if not (self.path / name).is_file():
                raise _refuse(self.path, name, "is missing")
        unofficial = []
        for name in [META, *TRAIN, TEST]:
            raw = (self.path / name).read_bytes()
            if hashlib.md5(raw).hexdigest() != self.ds.file_md5.get(name):
                unofficial.append(name)
            yield name, raw
            del raw  # hold one raw batch at a time
        if unofficial:
            self.differs = f"{len(unofficial)} of 7 files differ from the official ones"


class _Archive:
    """The .tar.gz, streamed once: members in order, its md5 taken on the way."""

    def __init__(self, path: Path, ds: Dataset):
        self.path, self.ds = path, ds
        self.differs = ""

    def batches(self) -> Iterator[tuple[str, bytes]]:
        wanted = {f"{self.ds.folder}/{name}": name for name in [META, *TRAIN, TEST]}
        seen = set()
        with open(self.path, "rb") as f:
            hashing = _Hashing(f)
            try:
                with tarfile.open(fileobj=hashing, mode="r|*") as tar:
                    for member in tar:
                        name = wanted.get(member.name.removeprefix("./"))
                        if name and member.isfile():
                            seen.add(name)
                            yield name, tar.extractfile(member).read()
            except (tarfile.TarError, EOFError, OSError, ValueError) as e:
                raise TitoError(
                    f"{self.path} is not a readable .tar.gz: {e}.",
                    "Pass the official cifar-10-python.tar.gz or the extracted "
                    "folder with --data-dir.",
                ) from None
            hashing.finish()
        for name in [META, *TRAIN, TEST]:
            if name not in seen:
                raise _refuse(self.path, f"{self.ds.folder}/{name}", "is missing")
        if hashing.hexdigest() != self.ds.md5:
            self.differs = f"its md5 is {hashing.hexdigest()}, not {self.ds.md5}"


class _Hashing:
    """A read-only file wrapper that hashes every byte read through it."""

    def __init__(self, f):
        self.f, self.md5 = f, hashlib.md5()

    def read(self, n: int = -1) -> bytes:
        chunk = self.f.read(n)
        self.md5.update(chunk)
        return chunk

    def finish(self) -> None:
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        return self.md5.hexdigest()


def _assemble(batches: Iterator[tuple[str, bytes]], where: Path) -> ImageSet:
    """Validate each batch and place it; the training set is allocated once."""
    train_x = train_y = test_x = test_y = classes = None
    for name, raw in batches:
        if name == META:
            classes = _classes(raw, where)
            continue

        x, y = _batch(raw, where, name)  # (n, 3, 32, 32), (n,)
        del raw
        if name == TEST:
            test_x, test_y = x, y
            continue

        n, i = len(y), TRAIN.index(name)
        if train_x is None:
            per_batch = n
            train_x = np.empty((len(TRAIN) * n, 3, 32, 32), np.uint8)
            train_y = np.empty(len(TRAIN) * n, np.int64)
        if n != per_batch:
            raise _refuse(
                where, name, f"has {n:,} images where others have {per_batch:,}"
            )
        train_x[i * n : (i + 1) * n] = x
        train_y[i * n : (i + 1) * n] = y
        del x  # placed; only the one full copy is kept

    return ImageSet(train_x, train_y, test_x, test_y, classes, source=str(where))


def _batch(raw: bytes, where: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = load_dict(raw)
    except ValueError as e:
        raise _refuse(where, name, str(e)) from None

    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise _refuse(where, name, "has no 'data' array and 'labels' list")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        raise _refuse(
            where, name, f"has data {data.dtype} {data.shape}, not uint8 (N, {PIXELS})"
        )

    try:
        y = np.asarray(labels, dtype=np.int64)  # (N,)
    except (TypeError, ValueError):
        raise _refuse(where, name, "has labels that are not integers") from None
    if y.shape != (len(data),):
        raise _refuse(where, name, f"has {y.size:,} labels for {len(data):,} images")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise _refuse(where, name, "has labels outside 0-9")
    return data.reshape(-1, 3, 32, 32), y  # planes R, G, B -> (N, 3, 32, 32)


def _classes(raw: bytes, where: Path) -> list[str]:
    try:
        names = load_dict(raw).get("label_names")
    except ValueError as e:
        raise _refuse(where, META, str(e)) from None
    if not isinstance(names, list) or len(names) != 10:
        raise _refuse(where, META, "has no list of 10 'label_names'")
    return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]


def _refuse(where: Path, name: str, problem: str) -> TitoError:
    return TitoError(
        f"CIFAR-10 at {where}: {name} {problem}.",
        "Replace that file from the official archive, or pass another copy with "
        "--data-dir (`tito data download cifar10` fetches a fresh one).",
    )

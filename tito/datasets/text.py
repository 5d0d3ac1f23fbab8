"""Text corpora by name: the real ones from course.yaml, and the generated "tiny".

`load_text("tinyshakespeare", data_dir)` reads the file (or the file inside a
folder), else the cache, downloading it there if allowed. A copy whose md5 is
not the official one is used with a one-line note once it decodes as UTF-8.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tito.course import Dataset
from tito.datasets import store
from tito.datasets.cache import data_home
from tito.datasets.display import Display
from tito.datasets.synthetic import tiny_corpus
from tito.errors import TitoError

GENERATED = {"tiny": tiny_corpus}


def load_text(
    name: str,
    data_dir: str | Path | None = None,
    *,
    download: bool = True,
    display: Display | None = None,
) -> str:
    """The corpus `name` as one str; "tiny" is generated here and needs no files."""
    if name in GENERATED:
        return GENERATED[name]()

    ds = _text_dataset(name)
    display = display or Display()
    path = _locate(ds, data_dir, download, display)

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TitoError(
            f"{path} is not UTF-8 text (byte {e.start} is not valid).",
            f"Pass the {ds.name} text file with --data-dir.",
        ) from None
    if not text:
        raise TitoError(
            f"{path} is empty.", f"Pass the {ds.name} text file with --data-dir."
        )

    got = hashlib.md5(raw).hexdigest()
    if got != ds.md5:
        display.note(
            f"Note: {path} is not the official {ds.name} (md5 {got}, not {ds.md5}); "
            f"it is used as is ({len(text):,} characters)."
        )
    return text


def _text_dataset(name: str) -> Dataset:
    texts = [d for d in store.all_datasets() if d.file]
    for ds in texts:
        if ds.name == name:
            return ds
    known = ", ".join([*GENERATED, *(d.name for d in texts)])
    raise TitoError(f"There is no text dataset '{name}'.", f"Use one of: {known}.")


def _locate(ds: Dataset, data_dir, download: bool, display) -> Path:
    if data_dir is None:
        root = data_home()
        if store.is_present(ds, root):
            return store.local_path(ds, root)
        if not download:
            raise store.offline_error(ds, root, "downloads were turned off.")
        return store.ensure(ds, root, display=display)

    path = Path(data_dir).expanduser()
    if path.is_dir():
        path = path / ds.file
    if path.is_file():
        return path
    raise TitoError(
        f"No {ds.name} text at {path}.",
        f"Pass the {ds.file} file or the folder holding it with --data-dir, "
        f"or run `tito data download {ds.name}`.",
    )

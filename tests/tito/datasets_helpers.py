"""Helpers for the data-layer tests: files in the official CIFAR-10 layout, and
a local HTTP server that can serve, stall, or cut a download.

The batches are written the way the official files were (Python 2 pickles,
protocol 2: keys and raw pixel bytes as Python 2 strings, the array rebuilt by
numpy.core.multiarray._reconstruct), by a small opcode writer, so the loader is
tested on the real format rather than on what Python 3 would write.
"""

from __future__ import annotations

import hashlib
import io
import socket
import struct
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer"]
CLASSES += ["dog", "frog", "horse", "ship", "truck"]


# ---- Python 2 pickles ------------------------------------------------------


def py2_pickle(obj) -> bytes:
    """Pickle dicts, lists, ints, str, None and uint8 arrays as Python 2 did."""
    return b"\x80\x02" + _op(obj) + b"."


def _op(obj) -> bytes:
    if obj is None:
        return b"N"
    if isinstance(obj, bool):
        return b"\x88" if obj else b"\x89"
    if isinstance(obj, int):
        if 0 <= obj < 256:
            return b"K" + bytes([obj])
        if 0 <= obj < 65536:
            return b"M" + struct.pack("<H", obj)
        return b"J" + struct.pack("<i", obj)
    if isinstance(obj, str | bytes):  # a Python 2 str
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            return b"U" + bytes([len(raw)]) + raw
        return b"T" + struct.pack("<I", len(raw)) + raw
    if isinstance(obj, tuple):
        return b"(" + b"".join(_op(x) for x in obj) + b"t"
    if isinstance(obj, list):
        return b"](" + b"".join(_op(x) for x in obj) + b"e"
    if isinstance(obj, dict):
        items = b"".join(_op(k) + _op(v) for k, v in obj.items())
        return b"}(" + items + b"u"
    if isinstance(obj, np.ndarray):
        return _array(obj)
    raise TypeError(type(obj))


def _array(a: np.ndarray) -> bytes:
    assert a.dtype == np.uint8
    new = b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n"
    new += _op((0,)) + _op("b") + b"\x87R"  # _reconstruct(ndarray, (0,), 'b')
    dtype = b"cnumpy\ndtype\n" + _op("u1") + b"\x89\x88\x87R"
    dtype += _op((3, "|", None, None, None, -1, -1, 0)) + b"b"
    state = b"(" + _op(1) + _op(a.shape) + dtype + b"\x89" + _op(a.tobytes()) + b"t"
    return new + state + b"b"


# ---- a small CIFAR-10 copy -------------------------------------------------


def make_batches(per_batch: int = 6, n_test: int = 4, seed: int = 0) -> dict:
    """{file name: (images (n, 3072) uint8, labels list)} plus the metadata."""
    rng = np.random.default_rng(seed)
    batches = {}
    for name, n in [*[(t, per_batch) for t in TRAIN], ("test_batch", n_test)]:
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, n)]
        batches[name] = (x, y)
    return batches


def batch_bytes(x, y, name="batch") -> bytes:
    names = [f"img_{i}.png" for i in range(len(y))]
    return py2_pickle({"batch_label": name, "labels": y, "data": x, "filenames": names})


def meta_bytes() -> bytes:
    return py2_pickle(
        {"num_cases_per_batch": 6, "label_names": CLASSES, "num_vis": 3072}
    )


def write_cifar(folder: Path, batches: dict) -> Path:
    """Write `batches` as an extracted cifar-10-batches-py/ folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "batches.meta").write_bytes(meta_bytes())
    for name, (x, y) in batches.items():
        (folder / name).write_bytes(batch_bytes(x, y, name))
    return folder


def tar_folder(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def add_member(tar: tarfile.TarFile, name: str, data: bytes = b"x", **info) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    for key, value in info.items():
        setattr(member, key, value)
    tar.addfile(member, io.BytesIO(data) if member.isfile() else None)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---- a local HTTP server ---------------------------------------------------


class Server:
    """Serves `body` at /good, stalls at /stall, cuts the connection at /cut."""

    def __init__(self, body: bytes):
        self.body = body
        self.release = threading.Event()
        handler = _handler(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: Server):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body, half = server.body, len(server.body) // 2
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path == "/good":
                self.wfile.write(body)
            elif self.path == "/stall":
                self.wfile.write(body[:half])
                self.wfile.flush()
                server.release.wait(10)
            elif self.path == "/cut":
                self.wfile.write(body[:half])
                self.wfile.flush()
                self.close_connection = True

        def log_message(self, *args):
            pass

    return Handler


def refused_url() -> str:
    """An address on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"

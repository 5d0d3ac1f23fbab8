"""Fetch one file over HTTP(S) into place, checked by its md5, or not at all.

Bytes stream into `NAME.part` beside the target; only when the md5 matches is
the part renamed to NAME, so an interrupted or wrong download never passes
for a whole one. Connect and read time-outs are separate, so a stalled server
ends the download instead of hanging it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tito.datasets.display import Display
from tito.errors import TitoError

CHUNK = 1 << 16
CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 30.0


class DownloadFailed(TitoError):
    """The network did not deliver the file; nothing was written."""


def fetch(
    url: str,
    dest: Path,
    md5: str,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    display: Display | None = None,
) -> Path:
    """Download `url` to `dest` if its md5 is `md5`; raise TitoError otherwise."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    display = display or Display()

    try:
        got = _stream(url, part, connect_timeout, read_timeout, display)
    except BaseException:
        part.unlink(missing_ok=True)
        raise

    if got != md5:
        part.unlink(missing_ok=True)
        raise TitoError(
            f"The download of {dest.name} from {url} has md5 {got}, "
            f"expected {md5}; it was discarded.",
            "Try again later; if it keeps happening, download the file yourself "
            "and pass it with --data-dir.",
        )

    os.replace(part, dest)
    return dest


def _stream(url, part: Path, connect_timeout, read_timeout, display) -> str:
    """Write the body of `url` into `part`; return its md5."""
    opener = _opener(read_timeout)
    digest = hashlib.md5()
    done = 0

    try:
        with opener.open(url, timeout=connect_timeout) as response:
            total = _length(response)
            with open(part, "wb") as out, display.transfer(part.stem, total) as update:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    update(done)
    except urllib.error.HTTPError as e:
        raise DownloadFailed(f"{url} answered HTTP {e.code} ({e.reason}).") from None
    except urllib.error.URLError as e:
        raise DownloadFailed(f"Could not reach {url}: {_reason(e.reason)}.") from None
    except TimeoutError:  # socket.timeout is the same class
        raise DownloadFailed(
            f"{url} sent nothing for {read_timeout:g} s after {done:,} bytes."
        ) from None
    except (OSError, http.client.HTTPException) as e:
        raise DownloadFailed(
            f"The connection to {url} broke after {done:,} bytes: {_reason(e)}."
        ) from None

    if total is not None and done != total:
        raise DownloadFailed(
            f"The connection to {url} closed after {done:,} of {total:,} bytes."
        )
    return digest.hexdigest()


def _length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _reason(reason) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(getattr(reason, "strerror", None) or reason) or type(reason).__name__


def _opener(read_timeout: float) -> urllib.request.OpenerDirector:
    """urllib with a read time-out that differs from the connect time-out."""

    def patient(base):
        class Connection(base):
            def connect(self):
                super().connect()  # within the connect time-out
                self.sock.settimeout(read_timeout)

        return Connection

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(patient(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req):
            conn = patient(http.client.HTTPSConnection)
            return self.do_open(conn, req, context=self._context)

    return urllib.request.build_opener(Http, Https)

"""Downloads against a local HTTP server: whole, wrong, stalled, cut, refused."""

import time
from contextlib import contextmanager

import pytest
from datasets_helpers import Server, md5, refused_url

from tito.course import Dataset
from tito.datasets import store
from tito.datasets.display import Quiet
from tito.datasets.download import DownloadFailed, fetch
from tito.errors import TitoError

BODY = bytes(range(256)) * 512  # 128 KiB, more than one read chunk


@pytest.fixture
def server():
    with Server(BODY) as s:
        yield s


class Recording(Quiet):
    def __init__(self):
        super().__init__()
        self.totals, self.updates = [], []

    @contextmanager
    def transfer(self, title, total):
        self.totals.append(total)
        yield self.updates.append


def test_good_download_is_renamed_into_place_and_reports_bytes(server, tmp_path):
    dest = tmp_path / "file.bin"
    display = Recording()

    fetch(server.url("good"), dest, md5(BODY), display=display)

    assert dest.read_bytes() == BODY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]
    assert display.totals == [len(BODY)]
    assert display.updates[-1] == len(BODY)
    assert display.updates == sorted(display.updates)


def test_checksum_mismatch_names_both_and_deletes_nothing_else(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"an older copy")
    (tmp_path / "other.txt").write_text("keep me")

    with pytest.raises(TitoError) as e:
        fetch(server.url("good"), dest, "0" * 32, display=Quiet())

    assert "0" * 32 in e.value.what and md5(BODY) in e.value.what
    assert dest.read_bytes() == b"an older copy"
    assert (tmp_path / "other.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin", "other.txt"]


def test_stalled_server_hits_the_read_timeout(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadFailed) as e:
        fetch(
            server.url("stall"),
            tmp_path / "file.bin",
            md5(BODY),
            read_timeout=0.5,
            display=Quiet(),
        )

    assert time.monotonic() - start < 5
    assert "sent nothing for 0.5 s" in e.value.what
    assert list(tmp_path.iterdir()) == []


def test_connection_cut_midway_leaves_no_file(server, tmp_path):
    with pytest.raises(DownloadFailed) as e:
        fetch(server.url("cut"), tmp_path / "file.bin", md5(BODY), display=Quiet())

    assert f"of {len(BODY):,} bytes" in e.value.what
    assert list(tmp_path.iterdir()) == []


def test_refused_connection_says_it_could_not_reach(tmp_path):
    url = refused_url()
    with pytest.raises(DownloadFailed) as e:
        fetch(url, tmp_path / "file.bin", md5(BODY), connect_timeout=2, display=Quiet())

    assert f"Could not reach {url}" in e.value.what
    assert list(tmp_path.iterdir()) == []


def test_offline_error_names_what_it_tried_the_file_its_md5_and_the_way_out(tmp_path):
    url = refused_url()
    ds = Dataset(
        "cifar10", "CIFAR-10", url, "c" * 32, 1, "tar.gz", "cifar-10-batches-py"
    )

    with pytest.raises(TitoError) as e:
        store.ensure(ds, tmp_path / "cache", display=Quiet(), connect_timeout=2)

    assert url in e.value.what and str(tmp_path / "cache") in e.value.what
    assert "cifar-10-python.tar.gz" in e.value.todo
    assert "c" * 32 in e.value.todo and "--data-dir" in e.value.todo
    assert list((tmp_path / "cache").iterdir()) == []

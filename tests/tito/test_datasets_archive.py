"""Safe unpacking: every member lands inside the target, or nothing is unpacked."""

import tarfile

import pytest
from datasets_helpers import add_member

from tito.datasets.archive import unpack
from tito.errors import TitoError


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, info in members:
            add_member(tar, name, **info)
    return path


def test_unpacks_the_named_folder_into_place(tmp_path):
    archive = make_tar(
        tmp_path / "a.tar.gz",
        [
            ("data/one", {}),
            ("data/sub/two", {}),
            ("data/link", {"type": tarfile.SYMTYPE, "linkname": "one"}),
        ],
    )

    folder = unpack(archive, tmp_path / "out", "data")

    assert folder == tmp_path / "out" / "data"
    assert (folder / "one").read_bytes() == b"x"
    assert (folder / "sub" / "two").is_file()
    assert (folder / "link").resolve() == (folder / "one").resolve()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["data"]


@pytest.mark.parametrize(
    "name, info, problem",
    [
        ("data/../../evil", {}, "outside the target folder"),
        ("../evil", {}, "outside the target folder"),
        ("/tmp/evil", {}, "outside the target folder"),
        ("data/up", {"type": tarfile.SYMTYPE, "linkname": "../../evil"}, "is a link"),
        ("data/abs", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "is a link"),
        ("data/hard", {"type": tarfile.LNKTYPE, "linkname": "../evil"}, "hard link"),
        ("data/dev", {"type": tarfile.CHRTYPE}, "device"),
    ],
)
def test_refuses_a_member_that_could_escape(tmp_path, name, info, problem):
    archive = make_tar(tmp_path / "a.tar.gz", [("data/ok", {}), (name, info)])

    with pytest.raises(TitoError) as e:
        unpack(archive, tmp_path / "out", "data")

    assert name in e.value.what and problem in e.value.what
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_refuses_a_path_through_a_link_in_the_archive(tmp_path):
    link = {"type": tarfile.SYMTYPE, "linkname": "."}
    archive = make_tar(
        tmp_path / "a.tar.gz", [("data/here", link), ("data/here/../../evil", {})]
    )

    with pytest.raises(TitoError) as e:
        unpack(archive, tmp_path / "out", "data")

    assert "goes through a link" in e.value.what
    assert not (tmp_path / "evil").exists()


def test_archive_without_the_folder_is_refused_and_cleaned_up(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", [("other/file", {})])

    with pytest.raises(TitoError, match="holds no folder 'data/'"):
        unpack(archive, tmp_path / "out", "data")

    assert list((tmp_path / "out").iterdir()) == []


def test_damaged_archive_is_refused(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really gzip")

    with pytest.raises(TitoError, match="could not be unpacked"):
        unpack(archive, tmp_path / "out", "data")

    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_existing_folder_is_never_replaced(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", [("data/one", {})])
    (tmp_path / "out" / "data").mkdir(parents=True)
    (tmp_path / "out" / "data" / "mine").write_text("keep")

    with pytest.raises(TitoError, match="already exists"):
        unpack(archive, tmp_path / "out", "data")

    assert (tmp_path / "out" / "data" / "mine").read_text() == "keep"

"""The CIFAR-10 loader on small copies written in the official layout."""

import dataclasses
import pickle
import shutil

import numpy as np
import pytest
from datasets_helpers import (
    CLASSES,
    TRAIN,
    batch_bytes,
    make_batches,
    md5,
    py2_pickle,
    refused_url,
    tar_folder,
    write_cifar,
)

from tito.datasets import load_cifar10, store
from tito.datasets.display import Quiet
from tito.errors import TitoError

FOLDER = "cifar-10-batches-py"


@pytest.fixture
def batches():
    return make_batches(per_batch=6, n_test=4)


@pytest.fixture
def copy(tmp_path, batches):
    return write_cifar(tmp_path / "data" / FOLDER, batches)


@pytest.fixture
def official(monkeypatch):
    """Make the course's official checksums those of the files a test wrote."""
    real = store.dataset("cifar10")

    def use(**changes):
        ds = dataclasses.replace(real, **changes)
        monkeypatch.setattr(store, "dataset", lambda name: ds)

    return use


def expected(batches):
    train_x = np.concatenate([batches[n][0] for n in TRAIN]).reshape(-1, 3, 32, 32)
    train_y = np.concatenate([batches[n][1] for n in TRAIN])
    test_x, test_y = batches["test_batch"]
    return train_x, train_y, test_x.reshape(-1, 3, 32, 32), np.array(test_y)


def assert_loaded(d, batches):
    train_x, train_y, test_x, test_y = expected(batches)
    assert d.train_x.dtype == np.uint8 and d.train_x.shape == (30, 3, 32, 32)
    assert d.train_y.dtype == np.int64 and d.train_y.shape == (30,)
    np.testing.assert_array_equal(d.train_x, train_x)
    np.testing.assert_array_equal(d.train_y, train_y)
    np.testing.assert_array_equal(d.test_x, test_x)
    np.testing.assert_array_equal(d.test_y, test_y)
    assert d.classes == CLASSES


def test_folder_loads_with_planes_red_green_blue(copy, batches):
    d = load_cifar10(copy, display=Quiet())

    assert_loaded(d, batches)
    x, _ = batches["data_batch_2"]
    np.testing.assert_array_equal(d.train_x[6, 0], x[0, :1024].reshape(32, 32))
    np.testing.assert_array_equal(d.train_x[6, 2, 31], x[0, 3072 - 32 :])


def test_parent_folder_and_archive_give_the_same_arrays(copy, batches, tmp_path):
    archive = tar_folder(copy, tmp_path / "cifar-10-python.tar.gz")
    only_archive = tmp_path / "only"
    only_archive.mkdir()
    shutil.copy(archive, only_archive)

    for source in [copy.parent, archive, only_archive]:
        assert_loaded(load_cifar10(source, display=Quiet()), batches)


def test_unofficial_copy_is_used_with_one_note(copy, batches):
    display = Quiet()

    load_cifar10(copy, display=display)

    assert len(display.notes) == 1 and "\n" not in display.notes[0]
    assert "not the official CIFAR-10" in display.notes[0]
    assert str(copy) in display.notes[0]


def test_official_folder_and_archive_load_without_a_note(copy, tmp_path, official):
    sums = {p.name: md5(p.read_bytes()) for p in copy.iterdir()}
    archive = tar_folder(copy, tmp_path / "cifar-10-python.tar.gz")
    official(file_md5=sums, md5=md5(archive.read_bytes()))
    display = Quiet()

    load_cifar10(copy, display=display)
    load_cifar10(archive, display=display)

    assert display.notes == []


def test_archive_with_another_md5_gets_a_note_naming_both(copy, tmp_path):
    archive = tar_folder(copy, tmp_path / "cifar-10-python.tar.gz")
    display = Quiet()

    load_cifar10(archive, display=display)

    assert md5(archive.read_bytes()) in display.notes[0]
    assert store.dataset("cifar10").md5 in display.notes[0]


def test_keys_as_bytes_from_python3_are_accepted(copy, batches):
    for name, (x, y) in batches.items():
        d = {b"data": x, b"labels": y, b"batch_label": name.encode()}
        (copy / name).write_bytes(pickle.dumps(d, protocol=2))

    assert_loaded(load_cifar10(copy, display=Quiet()), batches)


def test_missing_batch_is_refused_by_name(copy):
    (copy / "data_batch_3").unlink()

    with pytest.raises(TitoError) as e:
        load_cifar10(copy, display=Quiet())

    assert "data_batch_3 is missing" in e.value.what
    assert "--data-dir" in e.value.todo


def test_missing_batch_in_an_archive_is_refused_by_name(copy, tmp_path):
    (copy / "test_batch").unlink()
    archive = tar_folder(copy, tmp_path / "cifar-10-python.tar.gz")

    with pytest.raises(TitoError, match="test_batch is missing"):
        load_cifar10(archive, display=Quiet())


@pytest.mark.parametrize(
    "content, problem",
    [
        (lambda x, y: batch_bytes(x, y)[:500], "data_batch_4 is not a readable pickle"),
        (lambda x, y: b"garbage\n", "data_batch_4 is not a readable pickle"),
        (lambda x, y: batch_bytes(x[:, :3000].copy(), y), "not uint8 (N, 3072)"),
        (lambda x, y: batch_bytes(x, y[:-1]), "5 labels for 6 images"),
        (lambda x, y: batch_bytes(x, [12] * len(y)), "labels outside 0-9"),
        (lambda x, y: py2_pickle({"labels": y}), "no 'data' array"),
        (lambda x, y: py2_pickle([1, 2, 3]), "data_batch_4 holds a list, not a dict"),
        (lambda x, y: batch_bytes(x[:5], y[:5]), "has 5 images where others have 6"),
    ],
)
def test_malformed_batch_is_refused_by_name(copy, batches, content, problem):
    x, y = batches["data_batch_4"]
    (copy / "data_batch_4").write_bytes(content(x, y))

    with pytest.raises(TitoError) as e:
        load_cifar10(copy, display=Quiet())

    assert "data_batch_4" in e.value.what and problem in e.value.what


def test_a_pickle_naming_other_code_is_refused_without_running_it(copy, tmp_path):
    marker = tmp_path / "ran"
    evil = b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."
    (copy / "data_batch_1").write_bytes(evil)

    with pytest.raises(TitoError) as e:
        load_cifar10(copy, display=Quiet())

    assert "data_batch_1" in e.value.what and "os.system" in e.value.what
    assert not marker.exists()


def test_a_folder_without_cifar_names_what_it_expected(tmp_path):
    with pytest.raises(TitoError) as e:
        load_cifar10(tmp_path, display=Quiet())

    assert str(tmp_path) in e.value.what and FOLDER in e.value.what
    assert "--data-dir" in e.value.todo


def test_default_reads_the_cache_named_by_tinytorch_data(copy, batches, monkeypatch):
    monkeypatch.setenv("TINYTORCH_DATA", str(copy.parent))

    assert_loaded(load_cifar10(display=Quiet()), batches)


def test_offline_with_no_copy_fails_cleanly(tmp_path, monkeypatch, official):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "cache"))
    official(url=refused_url())

    with pytest.raises(TitoError) as e:
        load_cifar10(display=Quiet())

    assert "Could not reach" in e.value.what
    assert "cifar-10-python.tar.gz" in e.value.todo and "--data-dir" in e.value.todo
    assert store.dataset("cifar10").md5 in e.value.todo
    assert list((tmp_path / "cache").iterdir()) == []


def test_no_download_when_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))

    with pytest.raises(TitoError, match="downloads were turned off"):
        load_cifar10(download=False, display=Quiet())

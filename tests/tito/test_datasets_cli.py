"""`tito data list` and `tito data download`, run as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from datasets_helpers import (
    Server,
    make_batches,
    md5,
    refused_url,
    tar_folder,
    write_cifar,
)

REPO = Path(__file__).resolve().parents[2]


def run(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "tito", "data", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
        cwd=REPO,
    )


def course_with(tmp_path, **cifar) -> Path:
    """A copy of course.yaml whose cifar10 entry has the given fields."""
    data = yaml.safe_load((REPO / "course.yaml").read_text())
    for ds in data["datasets"]:
        if ds["name"] == "cifar10":
            ds.update(cifar)
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "course.yaml").write_text(yaml.safe_dump(data))
    return folder


@pytest.fixture
def archive(tmp_path):
    copy = write_cifar(tmp_path / "src" / "cifar-10-batches-py", make_batches())
    return tar_folder(copy, tmp_path / "src" / "cifar-10-python.tar.gz")


def test_download_checks_and_unpacks_then_list_shows_it(tmp_path, archive):
    body = archive.read_bytes()
    data = tmp_path / "data"
    with Server(body) as server:
        course = course_with(tmp_path, url=server.url("good"), md5=md5(body))
        env = {"TITO_COURSE": str(course), "TINYTORCH_DATA": str(tmp_path / "unused")}
        done = run("download", "cifar10", "--data-dir", str(data), env=env)

    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in data.iterdir()) == ["cifar-10-batches-py"]
    folder = data / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["batches.meta", "test_batch", *(f"data_batch_{i}" for i in range(1, 6))]
    )

    listed = run("list", "--json", "--data-dir", str(data), env=env)
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert rows["cifar10"] == {
        "name": "cifar10",
        "present": True,
        "path": str(folder),
        "size_bytes": size,
        "expected_bytes": 170498071,
    }
    assert rows["tinyshakespeare"]["present"] is False


def test_offline_download_exits_1_with_two_lines_and_no_files(tmp_path):
    url = refused_url()
    course = course_with(tmp_path, url=url)
    data = tmp_path / "data"

    done = run(
        "download", "cifar10", "--data-dir", str(data), env={"TITO_COURSE": str(course)}
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert url in done.stderr and "c58f30108f718f92721af3b95e74349a" in done.stderr
    assert "cifar-10-python.tar.gz" in done.stderr and "--data-dir" in done.stderr
    assert list(data.iterdir()) == []


@pytest.mark.parametrize("form", ["folder", "parent", "archive"])
def test_data_dir_takes_every_form_the_loaders_take(tmp_path, archive, form):
    folder = archive.parent / "cifar-10-batches-py"
    given = {"folder": folder, "parent": folder.parent, "archive": archive}[form]
    env = {"TITO_COURSE": str(course_with(tmp_path, url=refused_url()))}

    listed = run("list", "--json", "--data-dir", str(given), env=env)
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["cifar10"]["present"] is True, rows
    want = archive if form == "archive" else folder
    assert rows["cifar10"]["path"] == str(want)

    done = run("download", "cifar10", "--data-dir", str(given), env=env)
    assert done.returncode == 0, done.stderr  # found; the refused url is never asked
    assert "already here" in done.stdout


def test_list_shows_the_size_to_get_for_absent_datasets(tmp_path):
    listed = run("list", env={"TINYTORCH_DATA": str(tmp_path), "COLUMNS": "200"})
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.splitlines() if x.startswith("cifar10"))
    assert "170.5 MB to get" in line


def test_list_uses_tinytorch_data_by_default(tmp_path):
    (tmp_path / "tinyshakespeare.txt").write_text("to be or not to be\n")

    listed = run("list", "--json", env={"TINYTORCH_DATA": str(tmp_path)})

    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["tinyshakespeare"]["present"] is True
    assert rows["tinyshakespeare"]["size_bytes"] == 19
    assert rows["tinyshakespeare"]["path"] == str(tmp_path / "tinyshakespeare.txt")
    assert rows["cifar10"]["present"] is False


def test_every_data_command_has_help():
    from typer.testing import CliRunner

    from tito.cli.data import app

    for command in app.registered_commands:
        assert command.callback.__doc__, command.name
    result = CliRunner().invoke(app, ["download", "--help"])
    assert result.exit_code == 0 and "--data-dir" in result.output


def test_a_data_folder_that_is_a_file_is_named(tmp_path):
    afile = tmp_path / "data.txt"
    afile.write_text("not a folder")
    listed = run("list", env={"TINYTORCH_DATA": str(afile)})
    assert listed.returncode == 1
    lines = listed.stderr.strip().splitlines()
    assert len(lines) == 2 and "which is a file, not a folder" in lines[0]

"""Progress: atomic, locked read-modify-write; corrupt files reported, never reset."""

import json
import subprocess
import sys

import pytest

from tito import progress
from tito.errors import TitoError

BUMP = """
import sys
from tito import progress
for i in range(int(sys.argv[2])):
    with progress.update(sys.argv[1]) as record:
        entry = record["modules"].setdefault("counter", {"n": 0})
        entry["n"] += 1
"""


def test_missing_file_reads_as_empty(tmp_path):
    assert progress.load(tmp_path) == progress.empty()


def test_update_saves(tmp_path):
    with progress.update(tmp_path) as record:
        record["modules"]["01_x"] = {"test": {"passed": True}}
    assert progress.load(tmp_path)["modules"]["01_x"]["test"]["passed"] is True


@pytest.mark.parametrize(
    "content, why",
    [
        ('{"version": 1, "modules": [', "not valid JSON"),
        ("[]", "not an object"),
        ('{"version": 7, "modules": {}, "milestones": {}}', "'version' is 7"),
        ('{"version": 1, "modules": {"a": 3}, "milestones": {}}', "'modules.a'"),
    ],
)
def test_corrupt_file_is_reported_with_its_path_and_left_alone(tmp_path, content, why):
    path = progress.progress_path(tmp_path)
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(TitoError) as info:
        with progress.update(tmp_path) as record:
            record["modules"]["x"] = {}
    assert str(path) in info.value.what and why in info.value.what
    assert path.read_text() == content


def test_two_processes_do_not_lose_updates(tmp_path):
    runs = [
        subprocess.Popen([sys.executable, "-c", BUMP, str(tmp_path), "25"])
        for _ in range(2)
    ]
    assert [p.wait(timeout=120) for p in runs] == [0, 0]
    data = json.loads(progress.progress_path(tmp_path).read_text())
    assert data["modules"]["counter"]["n"] == 50

"""The milestone scripts, run for real on the reference package (--quick).

Each script runs as a learner would run it: a subprocess with the workspace
given by --workspace, on the small generated sets that need no download. The
oracles are chance level and the untrained model's loss: a quick run must beat
them, and it must leave its results where tito reads them.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tito.course import load_course
from tito.datasets import load_text
from tito.export import export_reference

COURSE = load_course()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    export_reference(COURSE, root)
    (root / ".tito").mkdir()
    return root


def run(milestone: str, workspace: Path, *args: str) -> subprocess.CompletedProcess:
    script = COURSE.path(COURSE.milestone(milestone).script)
    return subprocess.run(
        [sys.executable, str(script), "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def results(workspace: Path, milestone: str) -> dict:
    slug = COURSE.milestone(milestone).slug
    return json.loads((workspace / "milestones" / slug / "results.json").read_text())


def test_cnn_quick_run_learns_the_generated_shapes(workspace):
    done = run("04", workspace, "--quick", "--dataset", "shapes")
    assert done.returncode == 0, done.stderr[-3000:]

    found = results(workspace, "04")
    assert found["metric"] == "test_accuracy" and found["quick"] is True
    assert found["dataset"] == "shapes"
    assert found["value"] > 0.3  # ten classes: chance is 0.1


def test_gpt_quick_run_learns_and_samples_again(workspace):
    done = run("05", workspace, "--quick")
    assert done.returncode == 0, done.stderr[-3000:]

    found = results(workspace, "05")
    vocab = len(set(load_text("tiny")))
    assert found["metric"] == "val_loss" and found["quick"] is True
    assert found["value"] < math.log(vocab)  # an untrained model's loss
    again = run("05", workspace, "--sample", "--prompt", "A", "--length", "40")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.strip()


def test_a_bad_option_is_a_usage_error_without_traceback(workspace):
    done = run("04", workspace, "--epochs", "many")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr

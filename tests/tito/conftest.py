"""Shared helpers for tito's own tests: the fixture course, and running tito."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

collect_ignore_glob = ["fixtures/*"]

FIXTURE = Path(__file__).parent / "fixtures" / "course"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def course_dir(tmp_path, monkeypatch):
    """A fresh copy of the fixture course, released, selected with TITO_COURSE."""
    dest = tmp_path / "course"
    shutil.copytree(FIXTURE, dest)
    monkeypatch.setenv("TITO_COURSE", str(dest))
    monkeypatch.delenv("TITO_WORKSPACE", raising=False)
    from tito.course import load_course
    from tito.release.build import release

    release(load_course(dest))
    return dest


@pytest.fixture
def course(course_dir):
    from tito.course import load_course

    return load_course(course_dir)


@pytest.fixture
def workspace(course, tmp_path):
    from tito.workspace import init_workspace

    ws, _ = init_workspace(course, tmp_path / "ws")
    return ws


def tito(*args, env=None, input=None, timeout=120):
    """Run the real `tito` command; returns the CompletedProcess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "tito", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=timeout,
    )

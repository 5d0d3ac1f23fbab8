"""Grading a class: each workspace's own notebooks, the course's checks, no writes."""

import hashlib
from pathlib import Path

from test_e2e import STUB, _edit

from tito.grade import grade_workspace, graded_modules
from tito.workspace import init_workspace, start_module


def _tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_grades_each_workspace_without_touching_it(course, tmp_path):
    solved, _ = init_workspace(course, tmp_path / "solved")
    doubling = course.module("doubling")
    notebook, _, _ = start_module(solved, doubling)
    _edit(notebook, STUB.format("double"), "return 2 * x")
    _edit(notebook, STUB.format("Doubler.__call__"), "return double(x)")
    stubbed, _ = init_workspace(course, tmp_path / "stubbed")
    start_module(stubbed, doubling)
    idle, _ = init_workspace(course, tmp_path / "idle")
    before = _tree_digest(solved.root)

    modules = graded_modules(course, None)
    assert [m.slug for m in modules] == ["02_doubling"]
    [good] = grade_workspace(course, solved.root, modules, timeout=120)
    [bad] = grade_workspace(course, stubbed.root, modules, timeout=120)
    [none] = grade_workspace(course, idle.root, modules, timeout=120)
    [stray] = grade_workspace(course, tmp_path / "nowhere", modules, timeout=120)

    assert (good.status, good.passed) == ("passed", good.total)
    assert good.total > 0
    assert bad.status == "failed" and bad.passed < bad.total
    assert none.status == "not started"
    assert stray.status == "no workspace"
    assert _tree_digest(solved.root) == before
    assert not (solved.root / "tinytorch" / "ops" / "double.py").exists()


def test_code_that_breaks_at_import_is_graded_broken_not_zero_of_one(course, tmp_path):
    ws, _ = init_workspace(course, tmp_path / "ws")
    notebook, _, _ = start_module(ws, course.module("doubling"))
    _edit(notebook, STUB.format("double"), "return 2 * x")
    _edit(notebook, "from tinytorch.core import add_one", "import no_such_module")
    [grade] = grade_workspace(course, ws.root, [course.module(2)], timeout=120)
    assert grade.status == "broken" and grade.total == 0
    assert "No module named 'no_such_module'" in grade.reason


def test_a_path_that_is_no_workspace_fails_the_command_after_the_table(
    course, tmp_path
):
    from conftest import tito

    idle, _ = init_workspace(course, tmp_path / "idle")
    missing = tmp_path / "nowhere"
    out = tito("dev", "grade", str(idle.root), str(missing), env={"COLUMNS": "200"})
    assert out.returncode == 1
    assert "not started" in out.stdout  # the workspace that exists is graded
    lines = out.stderr.strip().splitlines()
    assert "1 of 2 path(s) could not be graded" in lines[-2], out.stderr
    assert f"{missing} (no such folder)" in lines[-2]


def test_an_unreadable_notebook_is_named_by_the_learners_path(course, tmp_path):
    from conftest import tito

    ws, _ = init_workspace(course, tmp_path / "class" / "ana")
    notebook, _, _ = start_module(ws, course.module("doubling"))
    notebook.write_text('{"cells": [')  # damaged JSON
    [grade] = grade_workspace(course, ws.root, [course.module(2)], timeout=120)
    assert grade.status == "unreadable" and str(notebook) in grade.reason
    assert "tito-grade-" not in grade.reason  # not the scratch copy's path

    out = tito("dev", "grade", str(tmp_path / "class"))  # the class's folder
    assert out.returncode == 0, out.stderr
    assert f"{ws.root} 02_doubling unreadable: " in out.stderr, out.stderr


def test_a_class_folder_stands_for_its_workspaces_and_reasons_are_shown(
    course, tmp_path
):
    from conftest import tito

    ana, _ = init_workspace(course, tmp_path / "class" / "ana")
    ben, _ = init_workspace(course, tmp_path / "class" / "ben")
    (tmp_path / "class" / "notes").mkdir()  # not a workspace: left out
    notebook, _, _ = start_module(ben, course.module("doubling"))
    _edit(notebook, STUB.format("double"), "while True:\n        pass")
    out = tito(
        "dev",
        "grade",
        str(tmp_path / "class"),
        str(ana.root),
        "--timeout",
        "5",
        env={"COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("grading ") == 2  # ana once, though named twice
    assert f"grading {ana.root}" in out.stderr and f"grading {ben.root}" in out.stderr
    assert f"{ben.root} 02_doubling failed: " in out.stderr  # why 0 of 0
    assert "timed out" in out.stderr, out.stderr


def test_the_grades_show_what_each_milestone_reached(course, tmp_path):
    import json

    from conftest import tito

    from tito import progress

    done, _ = init_workspace(course, tmp_path / "done")
    idle, _ = init_workspace(course, tmp_path / "idle")
    with progress.update(done.root) as record:
        run = {"metric": "score", "value": 10.0, "dataset": "real"}
        record["milestones"]["01_demo"] = {"runs": [run]}
    out = tito("dev", "grade", str(done.root), str(idle.root), "--json")
    assert out.returncode == 0, out.stderr
    reached = {
        (Path(i["workspace"]).name, i["milestone"]): i["status"]
        for i in json.loads(out.stdout)
        if "milestone" in i
    }
    assert reached == {("done", "01_demo"): "achieved 10", ("idle", "01_demo"): "-"}


def test_the_table_says_milestone_results_are_self_reported(course, tmp_path):
    from conftest import tito

    from tito import progress

    done, _ = init_workspace(course, tmp_path / "done")
    idle, _ = init_workspace(course, tmp_path / "idle")
    assert "recorded" not in tito("dev", "grade", str(idle.root)).stderr
    with progress.update(done.root) as record:
        run = {"metric": "score", "value": 10.0, "dataset": "real"}
        record["milestones"]["01_demo"] = {"runs": [run]}
    out = tito("dev", "grade", str(done.root), env={"COLUMNS": "200"})
    assert "achieved 10" in out.stdout, out.stdout
    assert "what each workspace recorded of its own runs" in out.stderr

"""Running checks: the verdict comes from the report, and only a real pass passes."""

import pytest

from tito.checks import run_checks
from tito.errors import TitoError


def _with_checks(course, text):
    course.path("tests/modules/test_02_doubling.py").write_text(text)


def _solved(workspace):
    """Export the reference solution of module 02 into the workspace package."""
    from tito.export import export_notebook

    export_notebook(
        workspace.course.path("solutions/02_doubling.py"),
        workspace.package_dir,
        "solutions/02_doubling.py",
    )


def test_passing_checks_pass(course, workspace):
    _solved(workspace)
    result = run_checks(course, workspace.root, course.module(2), timeout=120)
    assert result.passed, result.output
    assert (result.tests, result.failures, result.passed_count) == (3, 0, 3)


def test_stub_fails_with_the_exercise_named(course, workspace):
    from tito.workspace import export_module, start_module

    start_module(workspace, course.module(2))
    export_module(workspace, course.module(2))
    result = run_checks(course, workspace.root, course.module(2), timeout=120)
    assert not result.passed
    assert result.failures == 2
    messages = " ".join(msg for _, msg in result.problems)
    assert "Exercise double (module 02)" in messages


def test_zero_tests_collected_is_a_failure(course, workspace):
    _with_checks(course, '"""No tests here."""\n')
    result = run_checks(course, workspace.root, course.module(2), timeout=120)
    assert not result.passed and result.tests == 0
    assert "no checks" in result.reason


def test_only_skipped_tests_is_a_failure(course, workspace):
    _with_checks(
        course, "import pytest\n\n@pytest.mark.skip\ndef test_a():\n    pass\n"
    )
    result = run_checks(course, workspace.root, course.module(2), timeout=120)
    assert not result.passed and result.skipped == 1


def test_hang_past_the_limit_is_a_failure(course, workspace, monkeypatch):
    _solved(workspace)
    monkeypatch.setenv("TITO_FIXTURE_HANG", "1")
    result = run_checks(course, workspace.root, course.module(2), timeout=3)
    assert not result.passed
    assert "timed out after 3 s" in result.reason


def test_a_crash_is_a_failure(course, workspace):
    _with_checks(course, "import os\n\ndef test_a():\n    os._exit(0)\n")
    result = run_checks(course, workspace.root, course.module(2), timeout=120)
    assert not result.passed
    assert "no report" in result.reason


def test_a_killed_process_is_a_failure(course, workspace):
    _with_checks(
        course, "import os, signal\n\ndef test_a():\n    os.kill(os.getpid(), 9)\n"
    )
    result = run_checks(course, workspace.root, course.module(2), timeout=120)
    assert not result.passed and "signal 9" in result.reason


def test_workspace_package_comes_first(course, workspace, tmp_path, monkeypatch):
    decoy = tmp_path / "decoy" / "tinytorch"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise ImportError('decoy imported')\n")
    monkeypatch.setenv("PYTHONPATH", str(decoy.parent))
    _solved(workspace)
    result = run_checks(course, workspace.root, course.module(2), timeout=120)
    assert result.passed, result.output


def test_missing_checks_file_is_a_course_error(course, workspace):
    course.path("tests/modules/test_02_doubling.py").unlink()
    with pytest.raises(TitoError, match="no checks") as info:
        run_checks(course, workspace.root, course.module(2))
    assert "reinstall tito" in info.value.todo


def test_a_timeout_says_how_to_give_more_time(course, workspace):
    from conftest import tito
    from test_e2e import STUB, _edit

    from tito.workspace import start_module

    notebook, _, _ = start_module(workspace, course.module("doubling"))
    _edit(notebook, STUB.format("double"), "return 2 * x")
    _edit(notebook, STUB.format("Doubler.__call__"), "return double(x)")
    out = tito(
        "module",
        "test",
        "2",
        "--workspace",
        str(workspace.root),
        "--timeout",
        "3",
        env={"TITO_FIXTURE_HANG": "1"},
    )
    assert out.returncode == 1
    assert "02_doubling: timed out after 3 s (" in out.stdout, out.stdout
    assert "of 0 passed" not in out.stdout
    assert "--timeout SECONDS" in out.stdout and "Fix the notebook" not in out.stdout

"""Test and complete: results recorded with the code's hash; completion unlocks."""

from tito import progress
from tito.journey import check_module, complete_module
from tito.workspace import start_module

STUB = (
    'raise NotImplementedError(\\"Exercise {name} (module 02): '
    'replace this line with your code.\\")'
)


def _solve(ws, notebook_extra=""):
    path, _, _ = start_module(ws, ws.course.module(2))
    text = path.read_text()
    text = text.replace(STUB.format(name="double"), "return 2 * x")
    text = text.replace(STUB.format(name="Doubler.__call__"), "return double(x)")
    text = text.replace(
        "assert double(3) == 6", "assert double(3) == 6" + notebook_extra
    )
    path.write_text(text)


def test_check_records_verdict_and_hash(workspace):
    m = workspace.course.module(2)
    start_module(workspace, m)
    assert not check_module(workspace, m, timeout=120).passed
    last = progress.load(workspace.root)["modules"][m.slug]["test"]
    assert last["passed"] is False and last["failures"] == 2

    _solve(workspace)
    assert check_module(workspace, m, timeout=120).passed
    last = progress.load(workspace.root)["modules"][m.slug]["test"]
    assert last["passed"] is True and last["sha256"] == workspace.code_hash(m)


def test_complete_runs_the_notebook_and_names_the_unlocked_milestone(workspace):
    _solve(workspace)
    done = complete_module(workspace, workspace.course.module(2), 120, 60)
    assert done.passed and done.unlocked == ["01_demo"]
    entry = progress.load(workspace.root)["modules"]["02_doubling"]
    assert entry["complete"]["sha256"] == entry["test"]["sha256"]


def test_complete_fails_on_a_broken_notebook_cell(workspace):
    _solve(workspace, notebook_extra="\\nassert double(1) == 3")
    done = complete_module(workspace, workspace.course.module(2), 120, 60)
    assert done.checks.passed and not done.passed
    assert done.notebook.first_line == "assert double(3) == 6"
    assert "complete" not in progress.load(workspace.root)["modules"]["02_doubling"]


def test_a_failing_notebook_cell_is_named_with_what_to_do(workspace):
    from conftest import tito

    _solve(workspace, notebook_extra="\\nassert double(1) == 3")
    ws = ["--workspace", str(workspace.root)]
    out = tito("module", "test", "2", "--notebook", *ws)
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    assert "cell" in lines[-2] and "failed" in lines[-2], out.stdout
    assert lines[-1].startswith("Fix cell") and "--notebook" in lines[-1], out.stdout


def test_a_notebook_that_does_not_export_is_recorded_failing(workspace):
    import pytest

    from tito.errors import TitoError
    from tito.state import module_state

    m = workspace.course.module(2)
    with pytest.raises(TitoError):  # not started: nothing to record
        check_module(workspace, m, timeout=120)
    assert module_state(workspace, m, progress.load(workspace.root)).status == (
        "not started"
    )
    _solve(workspace)
    assert check_module(workspace, m, timeout=120).passed
    path = workspace.notebook(m)
    path.write_text(path.read_text().replace("return 2 * x", "return 2 *"))
    with pytest.raises(TitoError, match="SyntaxError"):
        check_module(workspace, m, timeout=120)
    state = module_state(workspace, m, progress.load(workspace.root))
    assert state.status == "failing" and "did not export" in state.detail

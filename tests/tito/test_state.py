"""Module status and milestone gates, from progress and the code exported now."""

from tito import progress
from tito.state import milestone_state, module_state
from tito.workspace import export_module, start_module


def _record_pass(ws, m):
    with progress.update(ws.root) as record:
        record["modules"][m.slug] = {
            "test": {"passed": True, "sha256": ws.code_hash(m)}
        }


def test_statuses_follow_the_exported_code(workspace):
    ws, m = workspace, workspace.course.module(2)
    states = lambda: module_state(ws, m, progress.load(ws.root)).status  # noqa: E731
    assert states() == "not started"
    start_module(ws, m)
    assert states() == "started"
    export_module(ws, m)

    _record_pass(ws, m)
    assert states() == "passing"
    record = progress.load(ws.root)
    assert "edited" not in module_state(ws, m, record).detail
    notebook = ws.notebook(m)
    notebook.write_text(notebook.read_text().replace("2 x.", "Twice x."))
    assert "notebook edited since" in module_state(ws, m, record).detail
    kept = notebook.read_text()
    notebook.unlink()
    gone = module_state(ws, m, record)
    assert gone.status == "passing" and "doubling.ipynb is gone" in gone.detail
    notebook.write_text(kept)
    ws.exported(m).write_text(ws.exported(m).read_text() + "\n# edited\n")
    assert states() == "stale"
    with progress.update(ws.root) as record:
        record["modules"][m.slug]["test"]["passed"] = False
    assert states() == "failing"


def test_given_module_is_given_while_present(workspace):
    m = workspace.course.module(1)
    assert module_state(workspace, m, progress.load(workspace.root)).status == "given"
    workspace.exported(m).unlink()
    assert module_state(workspace, m, progress.load(workspace.root)).status == "missing"


def test_milestone_unlocks_only_while_requirements_pass(workspace):
    ws, m = workspace, workspace.course.module(2)
    ms = ws.course.milestone("demo")
    locked = milestone_state(ws, ms, progress.load(ws.root))
    assert locked.status == "locked"
    assert [(s.module.slug, s.fix) for s in locked.missing] == [
        ("02_doubling", "tito module start 02")
    ]

    start_module(ws, m)
    export_module(ws, m)
    _record_pass(ws, m)
    assert milestone_state(ws, ms, progress.load(ws.root)).status == "unlocked"

    ws.exported(m).write_text("# changed\n")
    again = milestone_state(ws, ms, progress.load(ws.root))
    assert again.status == "locked" and again.missing[0].status == "stale"
    assert again.missing[0].fix == "tito module test 02"

"""The steps of a module that change progress: test it, complete it.

Each step exports the learner's notebook first, runs what it must, and
records the result with the sha256 of the code that was checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tito.checks import CheckResult, run_checks
from tito.course import Module
from tito.errors import TitoError
from tito.notebook_run import NotebookRun
from tito.workspace import Workspace, export_module


@dataclass
class Completion:
    checks: CheckResult
    notebook: NotebookRun | None
    unlocked: list[str]

    @property
    def passed(self) -> bool:
        return self.checks.passed and bool(self.notebook and self.notebook.passed)


def check_module(ws: Workspace, m: Module, timeout: float = 300.0) -> CheckResult:
    """Export module m, run its checks, record the verdict with the code's hash."""
    if not (m.given and not ws.notebook(m).is_file()):
        try:
            export_module(ws, m)
        except TitoError:
            if ws.notebook(m).is_file():  # it does not export: a failure too
                failed = CheckResult(False, "the notebook did not export")
                _record(ws, m, failed, None)
            raise
    digest = ws.code_hash(m)
    result = run_checks(ws.course, ws.root, m, timeout)
    _record(ws, m, result, digest)
    return result


def _record(ws: Workspace, m: Module, result: CheckResult, digest: str | None):
    from tito import progress

    with progress.update(ws.root) as record:
        entry = record["modules"].setdefault(m.slug, {})
        entry["test"] = {
            "passed": result.passed,
            "reason": result.reason,
            "sha256": digest,
            "tests": result.tests,
            "failures": result.failures + result.errors,
            "seconds": round(result.seconds, 2),
            "at": _now(),
        }


def run_module_notebook(ws: Workspace, m: Module, cell_timeout: float) -> NotebookRun:
    from tito.notebook_run import run_notebook

    export_module(ws, m)
    return run_notebook(ws.notebook(m), ws.root, cell_timeout)


def complete_module(
    ws: Workspace, m: Module, timeout: float = 300.0, cell_timeout: float = 120.0
) -> Completion:
    """Test, run the notebook top to bottom, and mark complete if both pass."""
    from tito import progress
    from tito.state import milestone_states

    before = _open_milestones(ws)
    checks = check_module(ws, m, timeout)
    if not checks.passed:
        return Completion(checks, None, [])
    notebook = run_module_notebook(ws, m, cell_timeout)
    if notebook.passed:
        with progress.update(ws.root) as record:
            entry = record["modules"].setdefault(m.slug, {})
            entry["complete"] = {"sha256": ws.code_hash(m), "at": _now()}
    after = milestone_states(ws, progress.load(ws.root))
    unlocked = [s.milestone.slug for s in after if s.status != "locked"]
    return Completion(checks, notebook, [s for s in unlocked if s not in before])


def _open_milestones(ws: Workspace) -> list[str]:
    from tito import progress
    from tito.state import milestone_states

    states = milestone_states(ws, progress.load(ws.root))
    return [s.milestone.slug for s in states if s.status != "locked"]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")

"""Grading a class: every learner workspace run against the course's checks.

Each workspace is copied (notebooks and package, not milestone outputs) into a
scratch folder, its started modules exported there from the learner's
notebooks, and the course's own checks run on that copy. Grading never writes
into a learner's folder, and one broken workspace never stops the others.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tito.checks import run_checks
from tito.course import Course, Module
from tito.errors import TitoError
from tito.workspace import Workspace, export_module

# the reasons a path gets when it is not a tito workspace at all
NO_WORKSPACE = ("not a tito workspace", "no such folder")


@dataclass
class Grade:
    workspace: Path
    module: Module
    # "passed", "failed", "broken", "not started", "unreadable" (a notebook tito
    # cannot read or export) or "no workspace"
    status: str
    passed: int = 0
    total: int = 0
    reason: str = ""

    @property
    def no_workspace(self) -> bool:
        """The path graded is not a tito workspace at all (a typo, often)."""
        return self.status == "no workspace"

    def to_json(self) -> dict:
        return {
            "workspace": str(self.workspace),
            "module": self.module.slug,
            "status": self.status,
            "passed": self.passed,
            "total": self.total,
            "reason": self.reason,
        }


def graded_modules(course: Course, keys: list[str] | None) -> list[Module]:
    """The modules named by `keys`, or every module the learner writes."""
    if keys:
        return [course.module(k) for k in keys]
    return [m for m in course.modules if not m.given]


def grade_workspace(
    course: Course, root: Path, modules: list[Module], timeout: float
) -> list[Grade]:
    """Grade one learner workspace on `modules`; never changes `root`."""
    root = Path(root).resolve()
    if not (root / ".tito").is_dir():
        why = NO_WORKSPACE[0] if root.exists() else NO_WORKSPACE[1]
        return [Grade(root, m, "no workspace", reason=why) for m in modules]

    with tempfile.TemporaryDirectory(prefix="tito-grade-") as tmp:
        copy = Path(tmp) / "ws"
        ignore = shutil.ignore_patterns("__pycache__", "milestones", "*.backup-*")
        shutil.copytree(root, copy, ignore=ignore)
        ws = Workspace(copy, course)
        return [_grade_module(ws, root, m, timeout) for m in modules]


def _grade_module(ws: Workspace, original: Path, m: Module, timeout: float) -> Grade:
    if not ws.notebook(m).is_file():
        return Grade(original, m, "not started")
    try:
        export_module(ws, m)
    except TitoError as e:  # named by the learner's path, not the scratch copy
        why = e.what.replace(str(ws.root), str(original))
        return Grade(original, m, "unreadable", reason=why)

    result = run_checks(ws.course, ws.root, m, timeout)
    if result.broken is not None:  # no check ran: no count to show
        why = f"{result.reason}: {result.broken['error']}"
        return Grade(
            original, m, "broken", reason=why.replace(str(ws.root), str(original))
        )
    status = "passed" if result.passed else "failed"
    total = max(result.ran, 0)
    return Grade(original, m, status, result.passed_count, total, result.reason)


def milestone_cells(course: Course, root: Path) -> list[str]:
    """For each milestone, what the workspace at `root` reached: `achieved
    0.8207`, `best 0.6612`, `tried`, or `-`; read only, never run."""
    from tito import progress
    from tito.milestones import achieved, best_result, latest_try

    root = Path(root).resolve()
    if not (root / ".tito").is_dir():
        return ["-" for _ in course.milestones]
    ws = Workspace(root, course)
    try:
        record = progress.load(root)
    except TitoError:
        return ["?" for _ in course.milestones]
    cells = []
    for ms in course.milestones:
        best = best_result(ws, ms, record)
        if best and achieved(ws, ms, record):
            cells.append(f"achieved {best['value']:.4g}")
        elif best:
            cells.append(f"best {best['value']:.4g}")
        else:
            cells.append("tried" if latest_try(ws, ms, record) else "-")
    return cells

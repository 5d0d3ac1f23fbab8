"""Release: every solution through the transforms into `modules/`, or a check of it.

A template is built in memory from `solutions/NN_name.py`; `release` writes
those that differ or, with `check`, only reports them. Nothing is written
outside the course's own `modules/` folder, and never into a workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tito.course import Course, Module
from tito.errors import TitoError
from tito.release.clean import clean_notebook, notebook_text
from tito.release.hidden import drop_hidden_tests
from tito.release.stubs import stub_solutions


@dataclass
class Outcome:
    module: Module
    path: Path
    state: str  # "written", "unchanged", "stale", "missing", "no solution"

    @property
    def out_of_date(self) -> bool:
        return self.state in ("stale", "missing")


def template_cells(course: Course, m: Module) -> list[tuple[str, str]]:
    """The (kind, source) cells of module m's template, transforms applied."""
    from tito.notebooks import read_cells

    cells = []
    for i, cell in enumerate(read_cells(course.path(m.solution))):
        where = f"{m.solution}, cell {i + 1}"
        text = drop_hidden_tests(cell.source, where)
        if cell.kind == "code":
            text = stub_solutions(text, m.number, m.given, where)
        if text.strip() or not cell.source.strip():
            cells.append((cell.kind, text))
    return cells


def template_text(course: Course, m: Module) -> str:
    """The exact bytes (as text) of module m's template notebook."""
    nb = clean_notebook(template_cells(course, m), m.solution, m.slug)
    return notebook_text(nb)


def release(course: Course, check: bool = False) -> list[Outcome]:
    """Regenerate (or with `check`, only compare) every module's template."""
    from tito.export import notebook_code
    from tito.files import write_atomic

    _refuse_workspace(course)
    outcomes = []
    for m in course.modules:
        dest = course.path(m.template)
        if not course.path(m.solution).is_file():
            outcomes.append(Outcome(m, dest, "no solution"))
            continue

        notebook_code(course.path(m.solution))  # exported cells must compile
        text = template_text(course, m)
        current = dest.read_text(encoding="utf-8") if dest.is_file() else None
        if current == text:
            state = "unchanged"
        elif check:
            state = "stale" if current is not None else "missing"
        else:
            write_atomic(dest, text)
            state = "written"
        outcomes.append(Outcome(m, dest, state))
    return outcomes


def _refuse_workspace(course: Course) -> None:
    modules_dir = course.path("modules").resolve()
    for folder in [modules_dir, *modules_dir.parents]:
        if (folder / ".tito").is_dir():
            raise TitoError(
                f"{modules_dir} is inside a learner workspace ({folder}).",
                "Run `tito dev release` from the course checkout, not a workspace.",
            )

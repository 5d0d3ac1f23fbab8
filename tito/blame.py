"""Where a broken check run broke: a file of the learner's package, traced back
to the module that exports it and the notebook cell that holds the line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tito.course import Module
from tito.workspace import Workspace


@dataclass
class Breakage:
    where: str  # the file as the learner knows it, with the line
    error: str  # the exception's last line
    module: Module | None = None  # the module whose exported file broke
    cell: str = ""  # "cell 5, line 3 of 08_dataloader/dataloader.ipynb"


def locate(ws: Workspace, broken: dict) -> Breakage:
    """Trace a collection error ({"file", "line", "error"}) back to its source."""
    path = Path(broken.get("file") or "")
    if not path.is_absolute():
        path = ws.root / path
    line = broken.get("line") or 0
    where = f"{ws.label(path.resolve())}, line {line}" if broken.get("file") else ""
    found = Breakage(where, broken.get("error") or "unknown error")
    for m in ws.course.modules:
        if ws.exported(m).resolve() == path.resolve():
            found.module = m
            found.cell = _cell(ws, m, line)
    if found.module is None:
        _missing_name(ws, found)
    return found


def _missing_name(ws: Workspace, found: Breakage) -> None:
    """A check file that imports a name the learner's package lacks: blame the
    module whose notebook should export it, not the check file."""
    import re

    hit = re.search(r"cannot import name '(\w+)' from '([\w.]+)'", found.error)
    if not hit:
        return
    name, package = hit.groups()
    makers = [
        m for m in ws.course.modules if f"{ws.course.package}.{m.target}" == package
    ]
    if not makers:
        return
    module = next((m for m in makers if name in m.names), makers[-1])
    found.module, found.where = module, ""
    found.error = (
        f"{package} has no `{name}`: module {module.slug} defines it in an "
        f"`#| export` cell of {ws.label(ws.notebook(module))}"
    )


def _cell(ws: Workspace, m: Module, line: int) -> str:
    from tito.errors import TitoError
    from tito.export import cell_at

    notebook = ws.notebook(m)
    if not notebook.is_file():
        return ""
    try:
        at = cell_at(notebook, line)
    except TitoError:
        return ""
    if at is None:
        return ""
    return f"cell {at[0]}, line {at[1]} of {ws.label(notebook)}"

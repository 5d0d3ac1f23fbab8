"""Reading notebooks: percent-format sources and .ipynb files, as one list of cells.

A cell's directives are its leading `#| name args` lines, nbdev-style.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError


@dataclass
class Cell:
    kind: str  # "code", "markdown" or "raw"
    source: str

    @property
    def directives(self) -> dict[str, str]:
        """`#| default_exp nn.conv` -> {"default_exp": "nn.conv"}."""
        found = {}
        for line in self.source.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("#|"):
                break
            name, _, args = stripped[2:].strip().partition(" ")
            found[name] = args.strip()
        return found

    @property
    def body(self) -> str:
        """The source without its leading directive lines."""
        lines = self.source.splitlines()
        while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#|")):
            lines.pop(0)
        return "\n".join(lines)


def read_notebook(path: Path):
    """Read a percent-format .py or an .ipynb into an nbformat notebook."""
    path = Path(path)
    if not path.is_file():
        raise TitoError(
            f"No notebook at {path}.", "Check the path, or start the module."
        )
    try:
        return _parse(path)
    except Exception as e:  # nbformat fails on a damaged file in many ways
        raise TitoError(
            f"{path} is not a readable notebook ({type(e).__name__}: {e}).",
            _restore_hint(path),
        ) from None


def _parse(path: Path):
    """The notebook at path; any exception when it is not a readable one."""
    if path.suffix == ".py":
        import jupytext

        nb = jupytext.read(path, fmt="py:percent")
    else:
        import json

        import nbformat

        text = path.read_text(encoding="utf-8")
        json.loads(text)  # its error names the line and column; nbformat's not
        nb = nbformat.reads(text, as_version=4)
    _check_cells(nb)
    return nb


def _readable(path: Path) -> bool:
    try:
        _parse(path)
    except Exception:
        return False
    return True


def _check_cells(nb) -> None:
    """A ValueError unless nb holds a list of cells, each with a kind and text."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError("it has no list of cells")
    for i, cell in enumerate(cells, start=1):
        ok = isinstance(cell, dict) and isinstance(cell.get("cell_type"), str)
        if not (ok and isinstance(cell.get("source"), str)):
            raise ValueError(f"cell {i} has no cell_type and source text")


def _restore_hint(path: Path) -> str:
    """How to get a readable notebook back: its newest backup, or a reset.

    A workspace keeps module NN's notebook in a folder named `NN_name/`.
    """
    import re

    number = re.match(r"(\d+)_", path.parent.name)
    reset = f"`tito module reset {number.group(1)}`" if number else "a reset"
    backups = sorted(path.parent.glob(f"{path.stem}.backup-*{path.suffix}"))
    good = [b for b in backups if _readable(b)]
    if good:
        return (
            f"Restore it from its newest readable backup, {good[-1].name} beside "
            f"it, or run {reset} (which backs it up first)."
        )
    return f"Run {reset} to restore the template (your file is backed up first)."


def read_cells(path: Path) -> list[Cell]:
    nb = read_notebook(path)
    return [Cell(c.cell_type, c.source) for c in nb.cells]

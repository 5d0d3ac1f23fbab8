"""Finding `### BEGIN X` / `### END X` regions in cell source, nbgrader-style."""

from __future__ import annotations

from tito.errors import TitoError


def regions(lines: list[str], kind: str, where: str) -> list[tuple[int, int]]:
    """(begin, end) line indices of each `### BEGIN kind` ... `### END kind` pair."""
    begin_mark, end_mark = f"### BEGIN {kind}", f"### END {kind}"
    found, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin_mark:
            if start is not None:
                raise _unbalanced(
                    where, i, f"a second `{begin_mark}` before `{end_mark}`"
                )
            start = i
        elif text == end_mark:
            if start is None:
                raise _unbalanced(where, i, f"`{end_mark}` without `{begin_mark}`")
            found.append((start, i))
            start = None
    if start is not None:
        raise _unbalanced(where, start, f"`{begin_mark}` is never closed")
    return found


def _unbalanced(where: str, index: int, problem: str) -> TitoError:
    return TitoError(
        f"{where}, line {index + 1} of the cell: {problem}.",
        "Pair every BEGIN marker with its END marker in the solution.",
    )

"""Transform: `### BEGIN SOLUTION` regions become a stub that names the exercise.

The stub sits at the marker's indentation and raises NotImplementedError, so an
unfinished exercise fails loudly, and says which exercise it is:
`Exercise Conv2d.forward (module 09): ...`. In a given module the answers stay
and only the marker lines go.
"""

from __future__ import annotations

import re

from tito.release.markers import regions

_DEF = re.compile(r"^(\s*)(?:async\s+def|def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")


def stub_solutions(source: str, module: int, given: bool = False, where="cell") -> str:
    """Replace each solution region with a stub (or, when given, keep its body)."""
    lines = source.split("\n")
    out, last = [], 0
    for begin, end in regions(lines, "SOLUTION", where):
        out.extend(lines[last:begin])
        if given:
            out.extend(lines[begin + 1 : end])
        else:
            out.append(stub_line(lines, begin, module))
        last = end + 1
    out.extend(lines[last:])
    return "\n".join(out)


def stub_line(lines: list[str], begin: int, module: int) -> str:
    """The `raise NotImplementedError(...)` line for the region starting at `begin`."""
    indent = _indent(lines[begin])
    name = exercise_name(lines, begin)
    label = f"Exercise {name}" if name else "Exercise"
    label += f" (module {module:02d})"
    message = f"{label}: replace this line with your code."
    return f'{indent}raise NotImplementedError("{message}")'


def exercise_name(lines: list[str], begin: int) -> str:
    """Dotted name of the defs/classes enclosing line `begin`, e.g. `Conv2d.forward`."""
    names, limit = [], len(_indent(lines[begin]))
    for line in reversed(lines[:begin]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < limit:
            names.append(match.group(2))
            limit = len(match.group(1))
        if limit == 0:
            break
    return ".".join(reversed(names))


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]

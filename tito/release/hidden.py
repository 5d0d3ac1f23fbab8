"""Transform: drop `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` blocks."""

from __future__ import annotations

from tito.release.markers import regions


def drop_hidden_tests(source: str, where: str = "cell") -> str:
    """The source without its hidden-test blocks (markers included)."""
    lines = source.split("\n")
    kept, last = [], 0
    for begin, end in regions(lines, "HIDDEN TESTS", where):
        kept.extend(lines[last:begin])
        last = end + 1
    kept.extend(lines[last:])
    return "\n".join(kept).strip("\n")

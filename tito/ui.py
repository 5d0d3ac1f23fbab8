"""Everything tito shows a person: the one place that imports rich.

Results go to stdout, notes and errors to stderr. Output is plain and calm:
a table, a line, a ✓ or ✗ at most. `--json` output bypasses all of this.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

VERBOSE = False
# " --workspace DIR" when the workspace was named on the command line and tito
# would not find it on its own: every `tito module/milestone/status ...` command
# suggested to the learner then carries it.
WORKSPACE_FLAG = ""
_COMMAND = re.compile(r"`(tito (?:module|milestone|status)\b[^`]*)`")


def with_workspace(text: str) -> str:
    """`text` with WORKSPACE_FLAG added to each tito command it suggests."""
    if not WORKSPACE_FLAG:
        return text
    return _COMMAND.sub(lambda m: f"`{m.group(1)}{WORKSPACE_FLAG}`", text)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _line(parts) -> Text:
    """One line from str parts, shown exactly as written (a learner's `[i]` is
    not markup), and styled Text parts (tito's own marks and colours)."""
    from rich.text import Text

    return Text.assemble(
        *(p if isinstance(p, Text) else with_workspace(p) for p in parts)
    )


def say(*parts: str | Text) -> None:
    """A line of result on stdout."""
    _console().print(_line(parts))


def note(*parts: str | Text) -> None:
    """A diagnostic line on stderr."""
    _console(stderr=True).print(_line(parts))


def debug(text: str) -> None:
    if VERBOSE:
        from rich.text import Text

        _console(stderr=True).print(Text(text, style="dim"))


def error(what: str, todo: str = "") -> None:
    """Two lines on stderr: what went wrong, then what to do."""
    from rich.text import Text

    console = _console(stderr=True)
    console.print(Text.assemble(("error:", "bold"), " ", what))
    if todo:
        console.print(Text(with_workspace(todo)))


def table(title: str, columns: list[str], rows: list[list[str | Text]]) -> None:
    """A simple table on stdout; str cells are shown exactly as written."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*(c if isinstance(c, Text) else Text(c) for c in row))
    _console().print(t)


def styled(text: str, style: str) -> Text:
    """text in a rich style ("green", "dim"...), for say, note and table."""
    from rich.text import Text

    return Text(text, style=style)


def mark(ok: bool) -> Text:
    return styled("✓", "green") if ok else styled("✗", "red")


def emit_json(data) -> None:
    """Machine-readable output on stdout, for scripts and graders."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def confirm(question: str) -> bool:
    """Ask yes/no on the terminal; the caller makes sure there is one."""
    from rich.prompt import Confirm
    from rich.text import Text

    return Confirm.ask(Text(question), default=False, console=_console(stderr=True))


def traceback() -> None:
    from rich.console import Console

    Console(stderr=True).print_exception()


@contextmanager
def transfer(title: str, total: int | None):
    """A download bar on stderr (bytes, rate, time left); yields update(bytes_done)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn()]
    columns += [TransferSpeedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=_console(stderr=True)) as bar:
        task = bar.add_task(title, total=total)
        yield lambda done: bar.update(task, completed=done)


def training_progress():
    """A training bar on stderr: steps, speed, time spent and left, and stats.

    Each task carries two text fields, `speed` and `stats`, set on update.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn("{task.fields[speed]}"), TimeElapsedColumn()]
    columns += [TextColumn("left"), TimeRemainingColumn()]
    columns += [TextColumn("{task.fields[stats]}")]
    return Progress(*columns, console=_console(stderr=True))

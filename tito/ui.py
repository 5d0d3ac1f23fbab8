"""Everything tito shows a person: the one place that imports rich.

Results go to stdout, notes and errors to stderr. Output is plain and calm:
a table, a line, a ✓ or ✗ at most. `--json` output bypasses all of this.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager

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


def say(text: str) -> None:
    """A line of result on stdout (rich markup allowed)."""
    _console().print(with_workspace(text))


def note(text: str) -> None:
    """A diagnostic line on stderr."""
    _console(stderr=True).print(text)


def debug(text: str) -> None:
    if VERBOSE:
        _console(stderr=True).print(f"[dim]{text}[/dim]", markup=True)


def error(what: str, todo: str = "") -> None:
    """Two lines on stderr: what went wrong, then what to do."""
    from rich.markup import escape

    console = _console(stderr=True)
    console.print(f"[bold]error:[/bold] {escape(what)}")
    if todo:
        console.print(escape(with_workspace(todo)))


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A simple table on stdout."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*row)
    _console().print(t)


def mark(ok: bool) -> str:
    return "[green]✓[/green]" if ok else "[red]✗[/red]"


def emit_json(data) -> None:
    """Machine-readable output on stdout, for scripts and graders."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def confirm(question: str) -> bool:
    """Ask yes/no on the terminal; the caller makes sure there is one."""
    from rich.prompt import Confirm

    return Confirm.ask(question, default=False, console=_console(stderr=True))


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

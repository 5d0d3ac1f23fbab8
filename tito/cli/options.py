"""Options shared by several commands, declared once."""

import math
from pathlib import Path
from typing import Annotated

import typer

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="TITO_WORKSPACE",
        help="Workspace folder (default: ./workspace).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ModuleArg = Annotated[
    str, typer.Argument(help="Module: 9, 09, 09_convolutions or convolutions.")
]


WEEK = 7 * 24 * 3600  # the longest time limit: the OS's timers overflow at ~24 days


def seconds(value: float) -> float:
    """A typer callback: a time limit is a number of seconds, above 0, at most a
    week."""
    if not (math.isfinite(value) and 0 < value <= WEEK):
        raise typer.BadParameter(
            f"{value:g} is not a number of seconds above 0 and at most {WEEK:,} "
            "(a week)."
        )
    return value


TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", help="Seconds before the checks are stopped.", callback=seconds
    ),
]


def open_workspace(option: Path | None):
    """The workspace a command works on (see `tito.workspace.find`).

    When the learner named one that tito would not find on its own from here,
    the commands tito suggests carry `--workspace` too.
    """
    import shlex

    from tito import ui
    from tito.course import load_course
    from tito.workspace import find
    from tito.workspace import open_workspace as open_root

    ws = open_root(load_course(), option)
    if option is not None and ws.root != find(None):
        ui.WORKSPACE_FLAG = f" --workspace {shlex.quote(str(ws.root))}"
    return ws

"""`tito init`: create a workspace."""

from pathlib import Path
from typing import Annotated

import typer

from tito.cli.options import WorkspaceOpt


def init(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Folder for the new workspace (default: --workspace).",
            show_default=False,
        ),
    ] = None,
    foundation: Annotated[
        Path | None,
        typer.Option(
            help="Your own finished package of the given modules, used instead."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
):
    """Create a workspace with the foundation modules exported into its package."""
    import shlex

    from tito import ui
    from tito.course import load_course
    from tito.workspace import init_workspace, resolve

    course = load_course()
    root = resolve(directory if directory is not None else workspace)
    ws, notes = init_workspace(course, root, foundation)
    for text in notes:
        ui.note(f"note: {text}")
    given = [m for m in course.modules if m.given]
    first = next((m for m in course.modules if not m.given), None)
    ui.say(f"Created workspace {ws.root}")
    ui.say(f"  {ws.label(ws.package_dir)}/ holds modules {_span(given)} (given).")
    if first is not None:
        quoted = shlex.quote(str(ws.root))
        flag = "" if root == resolve(None) else f" --workspace {quoted}"
        ui.say(f"Next: tito module start {first.number:02d}{flag}")


def _span(modules) -> str:
    if not modules:
        return "none"
    return f"{modules[0].number:02d}-{modules[-1].number:02d}"

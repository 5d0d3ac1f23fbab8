"""Options shared by several commands, declared once."""

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
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds before the checks are stopped.")
]

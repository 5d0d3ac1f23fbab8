"""The `tito` application: sub-commands, global options, and where errors are shown.

Every command is a thin layer over the library; heavy imports happen inside
commands so that `tito --help` starts fast.
"""

import sys
from typing import Annotated

import typer

from tito.cli import data, dev, init, milestone, module, status
from tito.errors import TitoError

app = typer.Typer(
    no_args_is_help=True,
    help="The tinytorch course workbench: build deep-learning modules, check them, "
    "unlock milestones.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("init")(init.init)
app.command("status")(status.status)
app.command("doctor")(status.doctor)
app.add_typer(module.app, name="module")
app.add_typer(milestone.app, name="milestone")
app.add_typer(dev.app, name="dev")
app.add_typer(data.app, name="data")


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show more, and tracebacks on errors."),
    ] = False,
):
    """The tinytorch course workbench."""
    from tito import ui

    ui.VERBOSE = ui.VERBOSE or verbose


def main():
    from tito import processes, ui
    from tito.errors import from_os_error

    ui.VERBOSE = _verbose_flag(sys.argv[1:])
    processes.catch_signals()
    try:
        app()
    except TitoError as e:
        _fail(e)
    except OSError as e:
        _fail(from_os_error(e))
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        if processes.INTERRUPTED:  # typer turns KeyboardInterrupt into exit 130
            _interrupted()
        raise


def _fail(e: TitoError):
    from tito import ui

    if ui.VERBOSE:
        ui.traceback()
    ui.error(e.what, e.todo)
    sys.exit(e.code)


def _interrupted():
    from tito import ui

    ui.note("Interrupted.")
    sys.exit(130)


def _verbose_flag(args: list[str]) -> bool:
    """--verbose given before the command (so errors raised early show a traceback)."""
    for arg in args:
        if not arg.startswith("-"):
            return False
        if arg in ("--verbose", "-v"):
            return True
    return False

"""The `tito` application: sub-commands and the one place errors are shown."""

from pathlib import Path

import typer

from tito.errors import TitoError

app = typer.Typer(no_args_is_help=True, help="The tinytorch course workbench.")
dev = typer.Typer(no_args_is_help=True, help="Instructor commands.")
app.add_typer(dev, name="dev")


@dev.command("build")
def dev_build(dest: Path = typer.Argument(..., help="Folder to export into.")):
    """Export every reference solution into DEST/tinytorch (for development)."""
    from tito.course import load_course
    from tito.export import export_reference

    print(export_reference(load_course(), dest))


def main():
    import sys

    try:
        app()
    except TitoError as e:
        print(f"error: {e.what}", file=sys.stderr)
        if e.todo:
            print(e.todo, file=sys.stderr)
        sys.exit(e.code)

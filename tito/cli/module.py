"""`tito module ...`: start, export, test, complete, reset and list modules."""

from typing import Annotated

import typer

from tito.cli.options import JsonOpt, ModuleArg, TimeoutOpt, WorkspaceOpt, seconds

app = typer.Typer(no_args_is_help=True, help="Work on a module: start, export, test.")

CellTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--cell-timeout", help="Seconds each notebook cell may run.", callback=seconds
    ),
]


def _open(workspace, key):
    from tito.cli.options import open_workspace

    ws = open_workspace(workspace)
    return ws, ws.course.module(key)


@app.command("list")
def list_modules(workspace: WorkspaceOpt = None, json: JsonOpt = False):
    """List the modules and their status (same as `tito status`)."""
    from tito.cli.status import status

    status(workspace, json)


@app.command("start")
def start(
    module: ModuleArg,
    force: Annotated[
        bool, typer.Option("--force", help="Replace your notebook (a backup is kept).")
    ] = False,
    open_: Annotated[
        bool, typer.Option("--open", help="Open the notebook in Jupyter, if installed.")
    ] = False,
    workspace: WorkspaceOpt = None,
):
    """Copy the module's template notebook into your workspace."""
    from tito import ui
    from tito.workspace import start_module

    ws, m = _open(workspace, module)
    path, saved, copied = start_module(ws, m, force)
    if saved:
        ui.say(f"Backed up your notebook to {ws.label(saved)}")
    if copied:
        ui.say(f"Started {m.slug}: {ws.label(path)}")
    else:
        ui.say(f"{m.slug} is already started: {ws.label(path)} is left as it is.")
        ui.say(
            f"To start over: `tito module start {m.number:02d} --force` (backs it up)"
        )
    ui.say(f"Next: edit the notebook, then `tito module test {m.number:02d}`.")
    if open_:
        _open_jupyter(path)


def _open_jupyter(path) -> None:
    from tito import processes
    from tito.errors import TitoError
    from tito.jupyter import INSTALL, front_end

    command = front_end()
    if command is None:
        raise TitoError(
            "JupyterLab is not installed, so the notebook cannot be opened.",
            f"Install it (`{INSTALL}`), or open the notebook in an editor.",
        )
    processes.call([command, str(path)], own_group=False)


@app.command("export")
def export(module: ModuleArg, workspace: WorkspaceOpt = None):
    """Write the notebook's `#| export` cells into your package."""
    from tito import ui
    from tito.workspace import export_module

    ws, m = _open(workspace, module)
    dest = export_module(ws, m)
    ui.say(f"Exported {ws.label(ws.notebook(m))} -> {ws.label(dest)}")


@app.command("test")
def test(
    module: ModuleArg,
    notebook: Annotated[
        bool, typer.Option("--notebook", help="Run the notebook top to bottom instead.")
    ] = False,
    timeout: TimeoutOpt = 300.0,
    cell_timeout: CellTimeoutOpt = 120.0,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Export the module, run its checks against your package, record the result."""
    from tito import ui
    from tito.journey import check_module, run_module_notebook

    ws, m = _open(workspace, module)
    if notebook:
        run = run_module_notebook(ws, m, cell_timeout)
        if json:
            ui.emit_json({"module": m.slug, "notebook": run.to_json()})
        else:
            show_notebook(m, run, f"tito module test {m.number:02d} --notebook")
        raise typer.Exit(0 if run.passed else 1)

    result = check_module(ws, m, timeout)
    if json:
        ui.emit_json({"module": m.slug, "passed": result.passed, **result.to_json()})
    else:
        show_checks(ws, m, result)
    raise typer.Exit(0 if result.passed else 1)


def show_checks(ws, m, result) -> None:
    from tito import ui

    if result.broken is not None:
        return _show_broken(ws, m, result)
    if ui.VERBOSE or (not result.passed and not result.problems):
        ui.note(result.output.rstrip()[-4000:])
    rows = _grouped(result.problems)
    if rows:
        ui.table("Failed checks", ["check", "first line"], rows)
    what = result.reason
    if result.passed:
        what = f"all {result.passed_count} checks passed"
    details = []
    if result.ran and not result.passed:
        details.append(f"{result.passed_count} of {result.ran} passed")
    if result.skipped:
        details.append(f"{result.skipped} skipped")
    details.append(f"{result.seconds:.1f} s")
    ui.say(ui.mark(result.passed), f" {m.slug}: {what} ({', '.join(details)})")
    again = f"`tito module test {m.number:02d}`"
    if result.timed_out:
        ui.say(
            f"If your code is only slow, give it longer: {again} --timeout SECONDS; "
            "if it never finishes, look for a loop that does not end."
        )
    elif not result.passed:
        ui.say(f"Fix the notebook, then {again} again.")


def _grouped(problems) -> list[list[str]]:
    """One row per distinct first line, naming the first check that gave it:
    an untouched template fails dozens of checks with a handful of messages."""
    groups: dict[str, list[str]] = {}
    for name, message in problems:
        groups.setdefault(message, []).append(name)
    return [
        [names[0] + (f" and {len(names) - 1} more" if len(names) > 1 else ""), message]
        for message, names in groups.items()
    ]


def _show_broken(ws, m, result) -> None:
    """A collection error: the first error, where it is, and which module to fix."""
    from tito import ui
    from tito.blame import locate

    if ui.VERBOSE:
        ui.note(result.output.rstrip()[-4000:])
    b = locate(ws, result.broken)
    ui.say(ui.mark(False), f" {m.slug}: {result.reason} ({result.seconds:.1f} s)")
    ui.say(f"  {b.where}: {b.error}" if b.where else f"  {b.error}")
    if b.cell:
        ui.say(f"  that is {b.cell}")
    again = f"`tito module test {m.number:02d}` again"
    if b.module is None:
        ui.say(f"Fix that file, then {again} (-v shows the whole report).")
    elif ws.notebook(b.module).is_file():
        ui.say(f"Fix module {b.module.slug}'s notebook, then {again}.")
    else:
        ui.say(
            f"Module {b.module.slug} is broken: restore it with "
            f"`tito module reset {b.module.number:02d}`, then {again}."
        )


def show_notebook(m, run, again: str) -> None:
    from tito import ui

    if run.passed:
        ui.say(ui.mark(True), f" {m.slug}: notebook ran, {run.cells} code cells.")
    else:
        ui.say(
            ui.mark(False),
            f" {m.slug}: cell {run.failed_cell} failed "
            f"({run.first_line!r}): {run.error}",
        )
        ui.say(f"Fix cell {run.failed_cell} (or one above it), then `{again}` again.")


@app.command("complete")
def complete(
    module: ModuleArg,
    timeout: TimeoutOpt = 300.0,
    cell_timeout: CellTimeoutOpt = 120.0,
    workspace: WorkspaceOpt = None,
):
    """Test the module, run its notebook top to bottom, and mark it complete."""
    from tito import ui
    from tito.journey import complete_module

    ws, m = _open(workspace, module)
    done = complete_module(ws, m, timeout, cell_timeout)
    show_checks(ws, m, done.checks)
    if done.notebook is not None:
        show_notebook(m, done.notebook, f"tito module complete {m.number:02d}")
    if done.passed:
        ui.say(f"{m.slug} is complete.")
        for slug in done.unlocked:
            ms = ws.course.milestone(slug)
            ui.say(f"Unlocked milestone {slug}: `tito milestone run {ms.number:02d}`")
    raise typer.Exit(0 if done.passed else 1)


@app.command("reset")
def reset(
    module: ModuleArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    workspace: WorkspaceOpt = None,
):
    """Back up your notebook, then restore the module's template."""
    import sys

    from tito import ui
    from tito.errors import TitoError
    from tito.workspace import reset_module

    ws, m = _open(workspace, module)
    if not m.given and not ws.notebook(m).exists():
        raise TitoError(
            f"Module {m.slug} is not started: there is nothing to reset.",
            f"To begin it: `tito module start {m.number:02d}`.",
        )
    if not yes:
        if not sys.stdin.isatty():
            raise TitoError(
                f"Not resetting {m.slug}: there is no terminal to ask on.",
                f"To reset without asking: `tito module reset {m.number:02d} --yes`.",
            )
        if not ui.confirm(f"Replace {ws.label(ws.notebook(m))} with the template?"):
            ui.say("Left as it is.")
            return
    path, saved = reset_module(ws, m)
    if saved:
        ui.say(f"Backed up your notebook to {ws.label(saved)}")
    ui.say(f"Restored the template: {ws.label(path)}")

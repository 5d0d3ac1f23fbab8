"""`tito milestone ...`: list milestones and run one with your package."""

from typing import Annotated

import typer

from tito.cli.options import JsonOpt, WorkspaceOpt

app = typer.Typer(
    no_args_is_help=True, help="Milestones: train real models with your package."
)


@app.command("list")
def list_milestones(workspace: WorkspaceOpt = None, json: JsonOpt = False):
    """Show each milestone: locked (and what is missing), unlocked or achieved."""
    from tito import progress, ui
    from tito.cli.options import open_workspace
    from tito.cli.status import show_milestones
    from tito.state import milestone_states

    ws = open_workspace(workspace)
    states = milestone_states(ws, progress.load(ws.root))
    if json:
        ui.emit_json([s.to_json() for s in states])
    else:
        show_milestones(states)


_HELP = ("--help", "-h")


@app.command(
    "run",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],  # --help after a milestone goes to its script
    },
)
def run(
    ctx: typer.Context,
    milestone: Annotated[
        str | None,
        typer.Argument(help="Milestone: 4, 04, 04_cnn or cnn.", show_default=False),
    ] = None,
    workspace: WorkspaceOpt = None,
):
    """Run a milestone's script with your package; other options pass through.

    For example `tito milestone run 04 --quick`: options tito does not know
    go to the script; `tito milestone run 04 --help` lists them.
    """
    from tito import ui
    from tito.cli.options import open_workspace
    from tito.cli.status import describe_result, describe_try
    from tito.course import load_course
    from tito.milestones import best_result, counts, run_milestone, script_help
    from tito.progress import load

    args = list(ctx.args)
    if milestone is None or milestone in _HELP:
        asked = milestone in _HELP or bool(set(args) & set(_HELP))
        if asked:
            typer.echo(ctx.get_help())
        else:
            ui.error(
                "Missing the milestone to run.",
                "Name one, e.g. `tito milestone run 04`; `tito milestone list` "
                "shows them.",
            )
        raise typer.Exit(0 if asked else 2)
    if set(args) & set(_HELP):
        course = load_course()
        raise typer.Exit(script_help(course, course.milestone(milestone)))
    ws = open_workspace(workspace)
    ms = ws.course.milestone(milestone)
    code, this_run = run_milestone(ws, ms, args)
    if code == 0 and this_run:
        best = best_result(ws, ms, load(ws.root))
        if counts(this_run) and ms.reached_by(this_run):
            goal = f" (the goal: {ms.describe_goal()})" if ms.goal else ""
            ui.say(
                f"{ms.slug}: this run {describe_result(this_run)}; "
                f"milestone achieved{goal}."
            )
        elif counts(this_run):
            ui.say(
                f"{ms.slug}: this run {describe_result(this_run)}; the goal is "
                f"{ms.describe_goal()}, which the default options reach."
            )
        else:
            ui.say(
                f"{ms.slug}: {describe_try(this_run)}. Quick runs and practice sets "
                "do not achieve the milestone; a full run on real data "
                + (f"reaching {ms.describe_goal()} does." if ms.goal else "does.")
            )
        if best and best != this_run:
            ui.say(f"{ms.slug}: best so far {describe_result(best)}")
    raise typer.Exit(code)

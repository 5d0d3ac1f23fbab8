"""`tito status` and `tito doctor`: where a learner stands, and whether tito can run."""

import typer

from tito.cli.options import JsonOpt, WorkspaceOpt


def status(workspace: WorkspaceOpt = None, json: JsonOpt = False):
    """Show every module's status and every milestone's gate."""
    from tito import progress, ui
    from tito.cli.options import open_workspace
    from tito.state import milestone_states, module_states

    ws = open_workspace(workspace)
    record = progress.load(ws.root)
    modules, milestones = module_states(ws, record), milestone_states(ws, record)
    if json:
        ui.emit_json(
            {
                "workspace": str(ws.root),
                "modules": [s.to_json() for s in modules],
                "milestones": [s.to_json() for s in milestones],
            }
        )
        return
    show_modules(modules)
    show_milestones(milestones)


def show_modules(states) -> None:
    from tito import ui

    rows = [
        [s.module.slug, s.module.title, _colour(s.status), s.detail] for s in states
    ]
    ui.table("Modules", ["module", "title", "status", ""], rows)


def show_milestones(states) -> None:
    from tito import ui

    rows = []
    for s in states:
        if s.status == "locked":
            detail = _needs(s.missing)
        elif s.best:
            detail = "best " + describe_result(s.best)
            if s.status != "achieved":
                detail += f"; the goal: {s.milestone.describe_goal()}"
        else:
            number = f"{s.milestone.number:02d}"
            detail = f"run: tito milestone run {number}{ui.WORKSPACE_FLAG}"
        if s.tried and not s.best:
            detail += f"; {describe_try(s.tried)}"
        rows.append([s.milestone.slug, s.milestone.title, _colour(s.status), detail])
    ui.table("\nMilestones", ["milestone", "title", "status", ""], rows)


def _needs(missing) -> str:
    """`not started: 10 11; failing: 09`: what a locked milestone waits for."""
    groups: dict[str, list[str]] = {}
    for m in missing:
        groups.setdefault(m.status, []).append(f"{m.module.number:02d}")
    return "; ".join(f"{status}: {' '.join(ns)}" for status, ns in groups.items())


def describe_result(result: dict) -> str:
    """`test_accuracy 0.6123 on cifar10`: a measured result and its data."""
    text = f"{result.get('metric', 'value')} {result['value']:.4g}"
    if result.get("dataset"):
        text += f" on {result['dataset']}"
    return text


def describe_try(result: dict) -> str:
    """`tried (quick, shapes): test_accuracy 0.41`: a run that achieves nothing."""
    kinds = ["quick"] if result.get("quick") else []
    kinds += [result["dataset"]] if result.get("dataset") else []
    value = f"{result.get('metric', 'value')} {result['value']:.4g}"
    return f"tried ({', '.join(kinds)}): {value}"


_COLOURS = {
    "passing": "green",
    "complete": "green",
    "given": "green",
    "achieved": "green",
    "unlocked": "green",
    "failing": "red",
    "stale": "yellow",
    "missing": "red",
    "changed": "yellow",
    "locked": "dim",
}


def _colour(text: str):
    from tito import ui

    colour = _COLOURS.get(text)
    return ui.styled(text, colour) if colour else text


def doctor(
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Check Python, packages, the course, the workspace, kernels and data."""
    from tito import ui
    from tito.doctor import diagnose

    findings = diagnose(workspace)
    if json:
        ui.emit_json([f.__dict__ for f in findings])
    else:
        rows = [[f.area, f.item, ui.mark(f.ok), f.detail] for f in findings]
        ui.table("tito doctor", ["area", "item", "", "detail"], rows)
    bad = [f for f in findings if not f.ok and f.required]
    if bad:
        raise typer.Exit(1)

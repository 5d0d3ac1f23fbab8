"""`tito dev ...`: instructor commands over solutions/ and modules/."""

from pathlib import Path
from typing import Annotated

import typer

from tito.cli.options import seconds

SecondsOpt = Annotated[
    float, typer.Option(help="Seconds per check run.", callback=seconds)
]
# In a package `tito dev build` made: it may replace that package, no other.
BUILD_MARKER = ".tito-dev-build"
app = typer.Typer(
    no_args_is_help=True, help="Instructor commands: build, release, verify, grade."
)


@app.command("build")
def build(folder: Annotated[str, typer.Argument(help="Folder to export into.")]):
    """Export every reference solution into FOLDER/tinytorch (for development)."""
    from tito.course import load_course
    from tito.errors import TitoError
    from tito.export import export_reference

    if not folder.strip():  # an unset shell variable, say: not the current folder
        raise TitoError(
            "The folder to build into is empty.",
            "Name one, e.g. `tito dev build /tmp/ref` (`.` for this folder).",
        )
    dest = Path(folder)
    if (dest / ".tito").is_dir():
        raise TitoError(
            f"{dest} is a learner workspace: building would replace its tinytorch.",
            "Build into a folder of its own, e.g. `tito dev build /tmp/ref`.",
        )
    course = load_course()
    package = dest / course.package
    marker = package / BUILD_MARKER
    if package.exists() and not marker.is_file():
        raise TitoError(
            f"{package} exists and was not made by `tito dev build`; "
            "building would write over it.",
            "Build into another folder, or move that one aside first.",
        )
    course.require_solutions()
    print(export_reference(course, dest))
    marker.write_text("made by `tito dev build`; it may build here again\n")


@app.command("release")
def release(
    check: Annotated[
        bool,
        typer.Option("--check", help="Only report; exit 1 if modules/ is out of date."),
    ] = False,
):
    """Regenerate the learner templates in modules/ from solutions/."""
    from tito import ui
    from tito.course import load_course
    from tito.release.build import release as run_release

    course = load_course()
    course.require_solutions()
    outcomes = run_release(course, check=check)
    rows = [[o.module.slug, _rel(course.root, o.path), o.state] for o in outcomes]
    ui.table("modules/", ["module", "template", "state"], rows)

    stale = [o for o in outcomes if o.out_of_date]
    if stale:
        from tito.errors import TitoError

        raise TitoError(
            f"{len(stale)} template(s) in modules/ are out of date.",
            "Run `tito dev release` and commit the result.",
        )


@app.command("verify")
def verify(
    modules: Annotated[
        list[str] | None, typer.Argument(help="Modules to verify (default: all).")
    ] = None,
    timeout: SecondsOpt = 600.0,
):
    """Check that every solution passes its checks and every template fails them."""
    from tito import ui
    from tito.course import load_course
    from tito.errors import TitoError
    from tito.verify import verify_course

    course = load_course()
    course.require_solutions()
    selected = [course.module(k) for k in modules] if modules else None
    rows, bad = [], 0
    for r in verify_course(course, selected, timeout, progress=ui.note):
        bad += not r.ok
        rows.append([r.module.slug, ui.mark(r.ok), r.solution, r.template, r.note])
    ui.table("verify", ["module", "", "solution", "template", "note"], rows)
    if bad:
        raise TitoError(
            f"{bad} module(s) failed verification.", "Fix what the table names."
        )


@app.command("grade")
def grade(
    workspaces: Annotated[
        list[Path],
        typer.Argument(
            help="Learner workspaces to grade, or folders holding them (a class)."
        ),
    ],
    modules: Annotated[
        list[str] | None,
        typer.Option("--module", "-m", help="Grade only these modules."),
    ] = None,
    timeout: SecondsOpt = 300.0,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
):
    """Run the course's checks on every workspace of a class, changing none of them."""
    from tito import ui
    from tito.course import load_course
    from tito.grade import grade_workspace, graded_modules, milestone_cells

    course = load_course()
    selected = graded_modules(course, modules)
    grades = []
    for root in dict.fromkeys(_expand(workspaces)):  # each once
        ui.note(f"grading {root}")
        grades.append(grade_workspace(course, root, selected, timeout))
    reached = {
        row[0].workspace: milestone_cells(course, row[0].workspace)
        for row in grades
        if row
    }
    if json:
        items = [g.to_json() for row in grades for g in row]
        items += [
            {"workspace": str(root), "milestone": ms.slug, "status": cell}
            for root, cells in reached.items()
            for ms, cell in zip(course.milestones, cells, strict=True)
        ]
        ui.emit_json(items)
    else:
        rows = [
            [str(row[0].workspace), *map(_cell, row), *reached[row[0].workspace]]
            for row in grades
            if row
        ]
        columns = [*(m.slug for m in selected), *(ms.slug for ms in course.milestones)]
        ui.table("grades", ["workspace", *columns], rows)
        for row in grades:  # why a cell holds no count, or a count of nothing
            for g in row:
                if g.status in ("unreadable", "broken") or (g.reason and not g.total):
                    ui.note(f"{g.workspace} {g.module.slug} {g.status}: {g.reason}")
        if any(c != "-" for cells in reached.values() for c in cells):
            ui.note(
                "Milestone columns are what each workspace recorded of its own "
                "runs; grading does not train them again."
            )
    _refuse_unreadable([row[0] for row in grades if row])


def _expand(paths: list[Path]) -> list[Path]:
    """Each path, resolved; a folder that is no workspace but holds workspaces
    (a class) stands for those, in name order."""
    found = []
    for path in paths:
        path = path.resolve()
        inner = [] if (path / ".tito").is_dir() else sorted(path.glob("*/.tito"))
        found += [p.parent for p in inner if p.is_dir()] or [path]
    return found


def _refuse_unreadable(firsts) -> None:
    """Exit 1 naming the paths that are no workspace at all (after the table)."""
    from tito.errors import TitoError

    bad = [g for g in firsts if g.no_workspace]
    if bad:
        names = ", ".join(f"{g.workspace} ({g.reason})" for g in bad)
        raise TitoError(
            f"{len(bad)} of {len(firsts)} path(s) could not be graded: {names}.",
            "Check those paths; each must be a folder made by `tito init`, or a "
            "folder of such folders.",
        )


def _cell(g) -> str:
    if g.status in ("passed", "failed"):
        return f"{g.passed}/{g.total}"
    return g.status


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)

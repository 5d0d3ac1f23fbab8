"""`tito dev verify`: every solution passes its checks and runs top to bottom,
and every template fails the checks.

Solutions are exported into a scratch workspace and each module's checks run
there; then the solution notebook itself runs, cell by cell, as `tito module
complete` runs a learner's (its inline checks included). For each exercised
module, its template (built in memory by the release pipeline) replaces its
solution, and the checks must fail: a check that a stub passes tests nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tito.course import Course, Module


@dataclass
class Verified:
    module: Module
    ok: bool
    solution: str
    template: str
    note: str = ""


def verify_course(course: Course, modules=None, timeout: float = 600.0, progress=None):
    """Yield one Verified per module (all modules with a solution by default)."""
    from tito.export import export_reference

    modules = modules or [
        m for m in course.modules if course.path(m.solution).is_file()
    ]
    scratch = Path(tempfile.mkdtemp(prefix="tito-verify-"))
    try:
        reference = scratch / "reference"
        export_reference(course, reference)
        for m in modules:
            if progress:
                progress(f"verifying {m.slug}")
            yield verify_module(course, m, reference, scratch, timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def verify_module(
    course: Course, m: Module, reference: Path, scratch: Path, timeout: float
) -> Verified:
    from tito.checks import run_checks
    from tito.errors import TitoError

    problem = _authoring_problem(course, m)
    if problem:
        return Verified(m, False, "-", "-", problem)
    try:
        on_solution = run_checks(course, reference, m, timeout)
        solution = _describe(on_solution)
        if m.given:
            failed = ", ".join(name for name, _ in on_solution.problems[:3])
            note = (
                "" if on_solution.passed else f"failing: {failed or on_solution.reason}"
            )
            ran = _run_solution_notebook(course, m, reference, scratch, timeout)
            note = "; ".join(n for n in (note, ran) if n)
            return Verified(m, on_solution.passed and not ran, solution, "given", note)
        on_template = run_checks(
            course, _template_workspace(course, m, scratch), m, timeout
        )
    except TitoError as e:
        return Verified(m, False, "-", "-", e.what)

    template = _describe(on_template)
    notes = []
    if not on_solution.passed:
        failed = ", ".join(name for name, _ in on_solution.problems[:3])
        notes.append(f"solution must pass ({failed or on_solution.reason})")
    if on_template.passed:
        notes.append("template must fail: its checks test nothing the stubs lack")
    ran = _run_solution_notebook(course, m, reference, scratch, timeout)
    if ran:
        notes.append(ran)
    ok = on_solution.passed and not on_template.passed and not ran
    return Verified(m, ok, solution, template, "; ".join(notes))


def _run_solution_notebook(course, m, reference, scratch, timeout) -> str:
    """Run the solution notebook (a copy, in scratch) against the reference
    package; "" if every cell ran, else what failed."""
    from tito.errors import TitoError
    from tito.notebook_run import run_notebook

    folder = scratch / "notebooks" / m.slug
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / Path(m.solution).name
    shutil.copyfile(course.path(m.solution), copy)
    try:
        run = run_notebook(copy, reference, cell_timeout=timeout)
    except TitoError as e:
        return f"solution notebook does not run: {e.what}"
    if run.passed:
        return ""
    return (
        f"solution notebook fails at cell {run.failed_cell} "
        f"({run.first_line[:60]}): {run.error}"
    )


def _authoring_problem(course: Course, m: Module) -> str:
    from tito.errors import TitoError
    from tito.export import notebook_code

    if not course.path(m.solution).is_file():
        return f"no solution at {m.solution}"
    if not course.path(m.checks).is_file():
        return f"no checks at {m.checks}"
    try:
        target, _ = notebook_code(course.path(m.solution))
    except TitoError as e:
        return e.what
    if target != m.target:
        return f"#| default_exp is {target}, course.yaml says {m.target}"
    return ""


def _template_workspace(course: Course, m: Module, scratch: Path) -> Path:
    """A scratch workspace: every solution, except module m from its template."""
    from tito.export import export_notebook, export_reference
    from tito.files import write_atomic
    from tito.release.build import template_text

    root = scratch / m.slug
    export_reference(course, root)
    notebook = scratch / f"{m.slug}.ipynb"
    write_atomic(notebook, template_text(course, m))
    export_notebook(notebook, root / course.package, m.template)
    return root


def _describe(result) -> str:
    if result.passed:
        return f"pass: {result.passed_count} passed"
    if result.broken is not None:
        return f"fail: {result.reason}: {result.broken['error']}"
    bad = result.failures + result.errors
    if bad:
        return f"fail: {bad} of {result.ran} failed"
    return f"fail: {result.reason}"

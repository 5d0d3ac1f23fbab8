"""`tito doctor`: each thing tito needs, looked at, with a verdict.

Every finding is measured here (a version read, a file found), never assumed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGES = [
    ("numpy", "numpy"),
    ("typer", "typer"),
    ("rich", "rich"),
    ("pyyaml", "yaml"),
    ("nbformat", "nbformat"),
    ("nbclient", "nbclient"),
    ("nbconvert", "nbconvert"),
    ("ipykernel", "ipykernel"),
    ("jupytext", "jupytext"),
    ("pytest", "pytest"),
]


@dataclass
class Finding:
    area: str
    item: str
    ok: bool
    detail: str
    required: bool = True


def diagnose(workspace: Path | None) -> list[Finding]:
    findings = [_python()]
    findings += [_package(dist, module) for dist, module in PACKAGES]
    course, found = _course()
    findings += found
    if course is not None:
        findings += _workspace(course, workspace)
    findings += _kernels()
    findings += _data()
    return findings


def _python() -> Finding:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 10)
    detail = f"{version} ({sys.executable})" + ("" if ok else "; need 3.10+")
    return Finding("python", "python", ok, detail)


def _package(dist: str, module: str) -> Finding:
    from importlib import metadata, util

    if util.find_spec(module) is None:
        return Finding("package", dist, False, f"not installed: pip install {dist}")
    try:
        return Finding("package", dist, True, metadata.version(dist))
    except metadata.PackageNotFoundError:
        return Finding("package", dist, True, "installed (version unknown)")


def _course():
    from tito.course import course_root, load_course
    from tito.errors import TitoError

    try:
        course = load_course()
    except TitoError as e:
        return None, [Finding("course", str(course_root()), False, e.what)]
    templates = [m for m in course.modules if course.path(m.template).is_file()]
    checks = [m for m in course.modules if course.path(m.checks).is_file()]
    n = len(course.modules)
    return course, [
        Finding("course", "course.yaml", True, str(course.root / "course.yaml")),
        Finding("course", "templates", len(templates) == n, f"{len(templates)} of {n}"),
        Finding("course", "checks", len(checks) == n, f"{len(checks)} of {n}"),
    ]


def _workspace(course, option) -> list[Finding]:
    import shlex

    from tito import progress
    from tito.errors import TitoError
    from tito.workspace import Workspace, find

    root = find(option)
    if not (root / ".tito").is_dir():
        hint = f"none here: tito init {shlex.quote(str(root))}"
        # a workspace named with --workspace must be there; one looked for need not
        return [Finding("workspace", str(root), False, hint, option is not None)]
    ws = Workspace(root, course)
    found = [Finding("workspace", str(root), True, "found")]
    try:
        progress.load(root)
        found.append(Finding("workspace", "progress", True, "readable"))
    except TitoError as e:
        found.append(Finding("workspace", "progress", False, e.what))
    given = [m for m in course.modules if m.given]
    present = [m for m in given if ws.exported(m).is_file()]
    detail = f"{len(present)} of {len(given)} given modules exported"
    found.append(Finding("workspace", "package", len(present) == len(given), detail))
    return found


def _kernels() -> list[Finding]:
    from importlib import util

    ok = util.find_spec("ipykernel") is not None
    found = [Finding("kernel", "this python", ok, "notebooks run on tito's own python")]
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        names = sorted(KernelSpecManager().find_kernel_specs())
        found.append(
            Finding("kernel", "installed", True, ", ".join(names) or "none", False)
        )
    except Exception as e:  # a broken Jupyter install is a finding, not a crash
        found.append(Finding("kernel", "installed", False, str(e), False))
    from tito.jupyter import INSTALL, front_end

    jupyter = front_end()
    detail = jupyter or (
        f"JupyterLab not installed: `{INSTALL}` (only for `module start --open`)"
    )
    found.append(Finding("kernel", "jupyterlab", bool(jupyter), detail, False))
    return found


def _data() -> list[Finding]:
    from tito.datasets import status

    found = []
    for row in status():
        detail = (
            f"{row.path} ({row.size_bytes / 1e6:.1f} MB)"
            if row.present
            else f"not cached: tito data download {row.name}"
        )
        found.append(Finding("data", row.name, bool(row.present), detail, False))
    return found

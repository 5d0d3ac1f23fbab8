"""The learner's workspace: its notebooks, its package and its progress.

Layout: `WS/NN_name/name.ipynb` (the learner's notebooks), `WS/<package>/`
(their package, exported from those notebooks), `WS/.tito/` (progress and its
lock). Nothing here deletes or overwrites a notebook without a backup.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from tito.course import Course, Module
from tito.errors import TitoError


@dataclass
class Workspace:
    root: Path
    course: Course

    @property
    def package_dir(self) -> Path:
        return self.root / self.course.package

    def notebook(self, m: Module) -> Path:
        return self.root / m.slug / f"{m.name}.ipynb"

    def exported(self, m: Module) -> Path:
        from tito.export import target_path

        return target_path(self.package_dir, m.target)

    def code_hash(self, m: Module) -> str | None:
        """sha256 of module m's exported file as it is now (None if absent)."""
        path = self.exported(m)
        if not path.is_file():
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def notebook_ahead(self, m: Module) -> bool:
        """True when the notebook would export something other than the package has."""
        from tito.export import HEADER, notebook_code

        notebook, exported = self.notebook(m), self.exported(m)
        if not notebook.is_file() or not exported.is_file():
            return False
        try:
            _, code = notebook_code(notebook)
        except TitoError:
            return True
        expected = HEADER.format(source=self.label(notebook)) + "\n" + code
        return exported.read_text(encoding="utf-8") != expected

    def label(self, path: Path) -> str:
        """`path` relative to the workspace, for headers and messages."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def resolve(option: Path | None) -> Path:
    """--workspace, else TITO_WORKSPACE, else ./workspace."""
    if option is not None:
        return Path(option).expanduser().resolve()
    env = os.environ.get("TITO_WORKSPACE")
    return Path(env or "workspace").expanduser().resolve()


def find(option: Path | None) -> Path:
    """Like `resolve`, but with neither option nor ./workspace, the nearest
    folder holding `.tito/`: this one or a parent (for use inside a workspace)."""
    root = resolve(option)
    if option is not None or os.environ.get("TITO_WORKSPACE"):
        return root
    if (root / ".tito").is_dir():
        return root
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / ".tito").is_dir():
            return folder
    return root


def open_workspace(course: Course, option: Path | None) -> Workspace:
    """The existing workspace named by `option` (see `find`)."""
    root = find(option)
    if root.exists() and not root.is_dir():
        raise TitoError(
            f"{root} is a file, not a tito workspace.",
            "Pass --workspace with the folder `tito init` made (or set "
            "TITO_WORKSPACE).",
        )
    if not (root / ".tito").is_dir():
        raise TitoError(
            f"There is no tito workspace at {root}.",
            f"Run `tito init {shlex.quote(str(root))}`, or pass --workspace DIR "
            "(or set TITO_WORKSPACE).",
        )
    return Workspace(root, course)


def init_workspace(course: Course, root: Path, foundation: Path | None = None):
    """Create a workspace with the given modules exported; return (ws, notes)."""
    from tito import progress
    from tito.export import write_package_inits

    root = Path(root).expanduser().resolve()
    if root == root.parent:
        raise TitoError(
            f"{root} is the root of the file system, not a place for a workspace.",
            "Choose a folder of its own, e.g. `tito init ~/tinytorch-course`.",
        )
    if root.exists() and not root.is_dir():
        raise TitoError(
            f"{root} is a file, not a folder.",
            "Choose a folder for the workspace (a new one, or an empty one).",
        )
    if (root / ".tito").is_dir():
        raise TitoError(
            f"{root} is already a tito workspace.",
            f"Carry on with `tito status --workspace {shlex.quote(str(root))}`.",
        )
    outer = next((p for p in root.parents if (p / ".tito").is_dir()), None)
    if outer is not None:
        raise TitoError(
            f"{root} is inside the workspace {outer}.",
            "Choose a folder outside it, or carry on in that one with "
            f"`tito status --workspace {shlex.quote(str(outer))}`.",
        )
    ws = Workspace(root, course)
    if ws.package_dir.exists():
        raise TitoError(
            f"{ws.package_dir} already exists; tito will not write over it.",
            "Choose another folder, or move that one aside first.",
        )
    found = (
        sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
        if (root.is_dir())
        else []
    )
    if found:
        raise TitoError(
            f"{root} is not empty (it holds {', '.join(found[:3])}"
            + (", ..." if len(found) > 3 else "")
            + ").",
            "Choose a new or empty folder for the workspace, e.g. "
            f"`tito init {shlex.quote(str(root / 'workspace'))}`.",
        )

    made = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        if foundation is not None:
            notes = _copy_foundation(ws, Path(foundation))
        else:
            notes = _export_given(ws)
        write_package_inits(course, ws.package_dir)
    except BaseException:  # leave no half-made workspace behind
        shutil.rmtree(root if made else ws.package_dir, ignore_errors=True)
        raise

    record = progress.empty()
    record["foundation"] = (
        str(Path(foundation).resolve()) if foundation else "templates"
    )
    record["given"] = {
        m.slug: ws.code_hash(m) for m in course.modules if m.given and ws.code_hash(m)
    }
    (root / ".tito").mkdir(exist_ok=True)
    progress.save(root, record)
    return ws, notes


def _export_given(ws: Workspace) -> list[str]:
    """Export each given module from its (complete) template in modules/."""
    from tito.export import export_notebook

    notes = []
    for m in ws.course.modules:
        if not m.given:
            continue
        template = ws.course.path(m.template)
        if not template.is_file():
            notes.append(f"module {m.slug} has no template at {template}; not exported")
            continue
        export_notebook(template, ws.package_dir, m.template)
    return notes


def _copy_foundation(ws: Workspace, source: Path) -> list[str]:
    """Copy the learner's own package in, checking it has every given module."""
    source = source.expanduser().resolve()
    if (source / ws.course.package).is_dir():
        source = source / ws.course.package
    if not (source / "__init__.py").is_file() and not any(source.glob("*.py")):
        raise TitoError(
            f"{source} is not a Python package folder.",
            f"Pass the folder holding your `{ws.course.package}` package.",
        )
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source, ws.package_dir, ignore=ignore)

    missing = [m for m in ws.course.modules if m.given and not ws.exported(m).is_file()]
    if missing:
        shutil.rmtree(ws.package_dir)
        names = ", ".join(f"{m.slug} ({m.target})" for m in missing)
        raise TitoError(
            f"{source} lacks given modules: {names}.",
            "Finish those modules in your package, or run `tito init` without "
            "--foundation.",
        )
    # the modules still to do write their own files, from the learner's notebooks
    later = [ws.exported(m) for m in ws.course.modules if not m.given]
    dropped = [path for path in later if path.is_file()]
    for path in dropped:
        path.unlink()
    notes = [
        f"copied your package from {source}; its __init__.py files are regenerated"
    ]
    if dropped:
        names = ", ".join(ws.label(p) for p in dropped)
        notes.append(f"left out {names}: your notebooks for those modules write them")
    return notes


def start_module(ws: Workspace, m: Module, force: bool = False):
    """Copy module m's template into the workspace; return (path, backup, copied)."""
    from tito.files import backup, write_atomic

    template = _template(ws, m)
    dest = ws.notebook(m)
    saved = None
    _refuse_folder(dest, m)
    if dest.exists():
        if not force:
            return dest, None, False
        saved = backup(dest)

    write_atomic(dest, template.read_bytes())
    return dest, saved, True


def _refuse_folder(notebook: Path, m: Module) -> None:
    """A folder where the notebook belongs: neither start nor test can go on."""
    if notebook.is_dir():
        raise TitoError(
            f"{notebook} is a folder, where the module's notebook belongs.",
            "Move that folder aside (keep what is in it), then "
            f"`tito module start {m.number:02d}` again.",
        )


def reset_module(ws: Workspace, m: Module) -> tuple[Path, Path | None]:
    """Back up the learner's notebook, then restore the template.

    A given module is exported again from its template, as `tito init` did.
    """
    from tito import progress
    from tito.export import export_notebook, write_package_inits

    dest, saved, _ = start_module(ws, m, force=True)
    if m.given:
        write_package_inits(ws.course, ws.package_dir)  # if the package was lost
        export_notebook(dest, ws.package_dir, ws.label(dest))
    with progress.update(ws.root) as record:
        record["modules"].pop(m.slug, None)
        if m.given:
            record.setdefault("given", {})[m.slug] = ws.code_hash(m)
    return dest, saved


def export_module(ws: Workspace, m: Module) -> Path:
    """Export the learner's notebook of module m into their package."""
    from tito.export import export_notebook, notebook_code, write_package_inits

    notebook = ws.notebook(m)
    _refuse_folder(notebook, m)
    if not notebook.is_file():
        raise TitoError(
            f"Module {m.slug} is not started: there is no {notebook}.",
            f"Run `tito module start {m.number:02d}` first.",
        )
    target, _ = notebook_code(notebook)
    if target != m.target:
        raise TitoError(
            f"{notebook} exports to '{target}', but module {m.slug} belongs in "
            f"'{m.target}'.",
            f"Change its first code cell back to `#| default_exp {m.target}`.",
        )
    write_package_inits(ws.course, ws.package_dir)
    return export_notebook(notebook, ws.package_dir, ws.label(notebook))


def _template(ws: Workspace, m: Module) -> Path:
    template = ws.course.path(m.template)
    if not template.is_file():
        raise TitoError(
            f"Module {m.slug} has no template at {template}.",
            "The course is incomplete: run `tito dev release` in the course checkout.",
        )
    return template

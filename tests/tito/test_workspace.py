"""Workspaces: init, start without overwriting, backups, reset, export guards."""

import pytest

from tito import progress
from tito.errors import TitoError
from tito.workspace import (
    export_module,
    init_workspace,
    open_workspace,
    reset_module,
    resolve,
    start_module,
)


def test_init_exports_given_modules_from_templates(workspace):
    core = workspace.package_dir / "core.py"
    assert "def add_one" in core.read_text()
    assert "modules/01_counting/counting.ipynb" in core.read_text().splitlines()[0]
    assert (workspace.package_dir / "__init__.py").is_file()
    assert progress.load(workspace.root)["foundation"] == "templates"


def test_init_twice_is_refused(course, workspace):
    with pytest.raises(TitoError, match="already a tito workspace"):
        init_workspace(course, workspace.root)


def test_init_inside_a_workspace_is_refused(course, workspace):
    inner = workspace.root / "02_doubling"
    with pytest.raises(TitoError, match="inside the workspace") as info:
        init_workspace(course, inner)
    assert str(workspace.root) in info.value.todo
    assert not inner.exists()


def test_init_in_a_folder_with_files_is_refused_and_a_failure_leaves_nothing(
    course, tmp_path
):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    (busy / ".git").mkdir()  # hidden entries do not count
    with pytest.raises(TitoError, match=r"not empty \(it holds notes.txt\)"):
        init_workspace(course, busy)
    assert sorted(p.name for p in busy.iterdir()) == [".git", "notes.txt"]
    (busy / "notes.txt").unlink()
    init_workspace(course, busy)  # only hidden entries: fine
    assert (busy / ".tito").is_dir()

    with pytest.raises(TitoError):  # the foundation folder does not exist
        init_workspace(course, tmp_path / "new", foundation=tmp_path / "none")
    assert not (tmp_path / "new").exists()


def test_init_with_own_foundation_copies_it(course, tmp_path):
    own = tmp_path / "mine" / "tinytorch"
    own.mkdir(parents=True)
    (own / "core.py").write_text("def add_one(x):\n    return x + 1  # mine\n")
    (own / "helpers.py").write_text("HELP = 1\n")  # a file of their own
    (own / "ops").mkdir()
    (own / "ops" / "double.py").write_text("def double(x): ...\n")  # module 02's
    ws, notes = init_workspace(course, tmp_path / "ws2", foundation=own.parent)
    assert "# mine" in (ws.package_dir / "core.py").read_text()
    assert (ws.package_dir / "helpers.py").read_text() == "HELP = 1\n"
    assert not (ws.package_dir / "ops" / "double.py").exists()  # notebook's to write
    assert (own / "ops" / "double.py").is_file()  # the source is left alone
    assert any("left out tinytorch/ops/double.py" in n for n in notes), notes


def test_init_with_incomplete_foundation_is_refused(course, tmp_path):
    own = tmp_path / "mine" / "tinytorch"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("")
    with pytest.raises(TitoError, match="01_counting"):
        init_workspace(course, tmp_path / "ws2", foundation=own)
    assert not (tmp_path / "ws2" / "tinytorch").exists()


def test_open_missing_workspace_says_what_to_do(course, tmp_path):
    with pytest.raises(TitoError) as info:
        open_workspace(course, tmp_path / "nowhere")
    assert "tito init" in info.value.todo


def test_resolve_order(tmp_path, monkeypatch):
    monkeypatch.setenv("TITO_WORKSPACE", str(tmp_path / "env"))
    assert resolve(tmp_path / "opt") == tmp_path / "opt"
    assert resolve(None) == tmp_path / "env"
    monkeypatch.delenv("TITO_WORKSPACE")
    monkeypatch.chdir(tmp_path)
    assert resolve(None) == tmp_path / "workspace"


def test_start_never_overwrites_without_force(workspace):
    m = workspace.course.module("doubling")
    path, saved, copied = start_module(workspace, m)
    assert copied and saved is None
    path.write_text("my work")

    again, saved, copied = start_module(workspace, m)
    assert not copied and saved is None and again.read_text() == "my work"

    _, saved, copied = start_module(workspace, m, force=True)
    assert copied and saved.read_text() == "my work"
    assert path.read_text() != "my work"


def test_reset_backs_up_and_forgets_the_result(workspace):
    m = workspace.course.module(2)
    path, _, _ = start_module(workspace, m)
    path.write_text(path.read_text().replace("Doubling", "Mine"))
    with progress.update(workspace.root) as record:
        record["modules"][m.slug] = {"test": {"passed": True, "sha256": "x"}}

    restored, saved = reset_module(workspace, m)
    assert "Mine" in saved.read_text() and "Mine" not in restored.read_text()
    assert m.slug not in progress.load(workspace.root)["modules"]


def test_export_needs_a_started_module(workspace):
    with pytest.raises(TitoError) as info:
        export_module(workspace, workspace.course.module(2))
    assert "tito module start 02" in info.value.todo


def test_export_refuses_a_changed_target(workspace):
    m = workspace.course.module(2)
    path, _, _ = start_module(workspace, m)
    path.write_text(
        path.read_text().replace("default_exp ops.double", "default_exp core")
    )
    with pytest.raises(TitoError, match="belongs in 'ops.double'"):
        export_module(workspace, m)
    assert "def add_one" in (workspace.package_dir / "core.py").read_text()


def test_unreadable_notebook_is_named_and_kept(workspace):
    m = workspace.course.module(2)
    path, _, _ = start_module(workspace, m)
    path.write_text("{ not json")
    with pytest.raises(TitoError) as info:
        export_module(workspace, m)
    assert str(path) in info.value.what
    assert path.read_text() == "{ not json"


def test_found_from_inside_by_its_tito_folder(workspace):
    import json
    import subprocess
    import sys

    from tito.workspace import start_module

    path, _, _ = start_module(workspace, workspace.course.module(2))
    out = subprocess.run(
        [sys.executable, "-m", "tito", "status", "--json"],
        cwd=path.parent,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["workspace"] == str(workspace.root)


def test_not_found_outside_says_how_to_make_one(course, tmp_path, monkeypatch):
    from tito.errors import TitoError
    from tito.workspace import open_workspace

    monkeypatch.chdir(tmp_path)
    with pytest.raises(TitoError, match="no tito workspace"):
        open_workspace(course, None)


def test_a_folder_where_the_notebook_belongs_is_named_by_start_and_test(workspace):
    from tito.errors import TitoError
    from tito.workspace import export_module, start_module

    m = workspace.course.module(2)
    workspace.notebook(m).mkdir(parents=True)
    (workspace.notebook(m) / "mine.txt").write_text("kept")
    for step in (start_module, export_module):
        with pytest.raises(TitoError, match="is a folder, where the module"):
            step(workspace, m)
    assert (workspace.notebook(m) / "mine.txt").read_text() == "kept"


def test_reset_brings_back_a_deleted_package_for_a_given_module(workspace):
    import shutil

    from tito.state import module_state
    from tito.workspace import reset_module

    m = workspace.course.module(1)
    shutil.rmtree(workspace.package_dir)
    state = module_state(workspace, m, progress.load(workspace.root))
    assert (state.status, state.fix) == ("missing", "tito module reset 01")
    reset_module(workspace, m)
    assert (workspace.package_dir / "__init__.py").is_file()
    assert module_state(workspace, m, progress.load(workspace.root)).status == "given"

"""The CLI as a user meets it: help, two-line errors, JSON for scripts."""

import json
import os
import sys
from pathlib import Path

import pytest
import typer
from conftest import REPO, tito


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_has_help():
    from tito.cli.app import app

    commands = dict(_commands(typer.main.get_command(app)))
    assert ("module", "test") in commands and ("dev", "release") in commands
    for path, command in commands.items():
        assert command.help and len(command.help.strip()) > 10, path


def test_help_runs_and_lists_the_groups():
    out = tito("--help")
    assert out.returncode == 0
    for group in ("init", "status", "doctor", "module", "milestone", "dev"):
        assert group in out.stdout


def test_user_error_is_two_lines_on_stderr_without_traceback(workspace):
    out = tito("module", "start", "99", "--workspace", str(workspace.root))
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2, out.stderr
    assert lines[0].startswith("error: There is no module '99'")
    assert "Traceback" not in out.stderr


def test_verbose_shows_the_traceback(workspace):
    out = tito("--verbose", "module", "start", "99", "--workspace", str(workspace.root))
    assert out.returncode == 1 and "Traceback" in out.stderr


def test_missing_workspace_says_how_to_make_one(course, tmp_path):
    out = tito("status", "--workspace", str(tmp_path / "none"))
    assert out.returncode == 1 and "tito init" in out.stderr


def test_workspace_from_environment(workspace):
    out = tito("status", "--json", env={"TITO_WORKSPACE": str(workspace.root)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["workspace"] == str(workspace.root)


def test_json_outputs_parse(workspace):
    ws = ["--workspace", str(workspace.root)]
    status = json.loads(tito("status", "--json", *ws).stdout)
    assert [m["status"] for m in status["modules"]] == ["given", "not started"]
    listed = json.loads(tito("milestone", "list", "--json", *ws).stdout)
    assert listed[0]["status"] == "locked"
    assert listed[0]["missing"][0]["fix"] == "tito module start 02"

    tito("module", "start", "2", *ws)
    out = tito("module", "test", "2", "--json", *ws)
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["passed"] is False and result["failures"] == 2
    assert result["tests"] == 3


def test_reset_without_a_terminal_refuses(workspace):
    ws = ["--workspace", str(workspace.root)]
    tito("module", "start", "2", *ws)
    notebook = workspace.notebook(workspace.course.module(2))
    notebook.write_text(notebook.read_text().replace("Doubling", "Mine"))
    out = tito("module", "reset", "2", *ws, input="")
    assert out.returncode == 1 and "--yes" in out.stderr
    assert "Mine" in notebook.read_text()


def test_reset_of_a_module_not_started_says_so(workspace):
    out = tito("module", "reset", "2", "--workspace", str(workspace.root), input="")
    assert out.returncode == 1
    what, todo = out.stderr.strip().splitlines()
    assert "not started" in what and "tito module start 02" in todo, out.stderr
    assert not workspace.notebook(workspace.course.module(2)).exists()


def test_start_twice_leaves_the_notebook_and_force_backs_up(workspace):
    ws = ["--workspace", str(workspace.root)]
    assert tito("module", "start", "doubling", *ws).returncode == 0
    notebook = workspace.notebook(workspace.course.module(2))
    notebook.write_text(notebook.read_text().replace("Doubling", "Mine"))

    again = tito("module", "start", "02_doubling", *ws)
    assert again.returncode == 0 and "left as it is" in again.stdout
    assert "Mine" in notebook.read_text()

    forced = tito("module", "start", "02", "--force", *ws)
    assert "Backed up your notebook to" in forced.stdout
    backups = list(notebook.parent.glob("doubling.backup-*.ipynb"))
    assert len(backups) == 1 and "Mine" in backups[0].read_text()


def test_locked_milestone_run_is_refused(workspace):
    out = tito("milestone", "run", "demo", "--workspace", str(workspace.root))
    assert out.returncode == 1
    assert "locked" in out.stderr and "tito module start 02" in out.stderr


@pytest.mark.skipif(
    not (REPO / "solutions").is_dir(), reason="runs in a course checkout only"
)
def test_real_course_templates_are_up_to_date():
    out = tito("dev", "release", "--check", env={"TITO_COURSE": str(REPO)})
    assert out.returncode == 0, out.stdout + out.stderr


def test_corrupt_progress_is_named_and_kept(workspace):
    path = workspace.root / ".tito" / "progress.json"
    path.write_text('{"version": 1, "modules": ')
    out = tito("status", "--workspace", str(workspace.root))
    assert out.returncode == 1 and str(path) in out.stderr
    assert "Traceback" not in out.stderr
    assert path.read_text() == '{"version": 1, "modules": '


def test_shell_completion_offers_commands():
    import shutil
    import subprocess

    script = shutil.which("tito") or str(Path(sys.executable).parent / "tito")
    env = dict(
        _TITO_COMPLETE="complete_bash", COMP_WORDS="tito module te", COMP_CWORD="2"
    )
    out = subprocess.run(
        [script], capture_output=True, text=True, env={**os.environ, **env}
    )
    assert out.stdout.split() == ["test"]


def _fake_bin(tmp_path, *names):
    """A folder of scripts that log their arguments to `calls`."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    for name in names:
        script = folder / name
        script.write_text(f'#!/bin/sh\necho "{name} $@" >> {tmp_path}/calls\n')
        script.chmod(0o755)
    return folder


def test_open_without_jupyterlab_says_how_to_install(workspace, tmp_path):
    """A bare `jupyter` (nbconvert brings one) is not a front end."""
    from tito.jupyter import front_end

    if front_end() and Path(front_end()).parent == Path(sys.executable).parent:
        pytest.fail("this environment has JupyterLab beside python; cannot hide it")
    folder = _fake_bin(tmp_path, "jupyter")
    ws = ["--workspace", str(workspace.root)]
    out = tito("module", "start", "2", "--open", *ws, env={"PATH": str(folder)})
    assert out.returncode == 1
    assert "JupyterLab is not installed" in out.stderr
    assert "pip install jupyterlab" in out.stderr
    assert not (tmp_path / "calls").exists()
    assert workspace.notebook(workspace.course.module(2)).is_file()


def test_open_runs_jupyterlab_on_the_notebook(workspace, tmp_path):
    folder = _fake_bin(tmp_path, "jupyter", "jupyter-lab")
    ws = ["--workspace", str(workspace.root)]
    out = tito("module", "start", "2", "--open", *ws, env={"PATH": str(folder)})
    assert out.returncode == 0, out.stderr
    notebook = workspace.notebook(workspace.course.module(2))
    assert (tmp_path / "calls").read_text().split() == ["jupyter-lab", str(notebook)]


def test_milestone_run_help_shows_the_scripts_options(workspace):
    ws = ["--workspace", str(workspace.root)]
    out = tito("milestone", "run", "1", "--help", *ws)  # locked: help still shows
    assert out.returncode == 0, out.stderr
    assert "--scale" in out.stdout and "--quick" in out.stdout
    assert not (workspace.root / "milestones").exists()

    own = tito("milestone", "run", "--help")
    assert own.returncode == 0
    assert "Milestone: 4, 04" in own.stdout and "--scale" not in own.stdout
    assert "milestones/" not in own.stdout  # names no path a wheel lacks


def test_hints_quote_paths_with_spaces(course, tmp_path):
    import shlex

    root = tmp_path / "my work space"
    made = tito("init", str(root))
    assert made.returncode == 0, made.stderr
    assert f"--workspace {shlex.quote(str(root))}" in made.stdout, made.stdout
    again = tito("init", str(root))
    assert f"`tito status --workspace {shlex.quote(str(root))}`" in again.stderr
    missing = tito("status", "--workspace", str(tmp_path / "no such"))
    assert f"`tito init {shlex.quote(str(tmp_path / 'no such'))}`" in missing.stderr


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf", "1e8"])
def test_a_bad_option_value_is_a_usage_error(workspace, value):
    out = tito("module", "test", "2", "--timeout", value)
    assert out.returncode == 2
    assert "Invalid value for '--timeout'" in out.stderr
    assert "Traceback" not in out.stderr


def test_dev_build_refuses_a_learner_workspace(workspace):
    package = workspace.root / "tinytorch"
    before = {p: p.read_bytes() for p in package.rglob("*.py")}
    out = tito("dev", "build", str(workspace.root))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and "learner workspace" in lines[0], out.stderr
    assert {p: p.read_bytes() for p in package.rglob("*.py")} == before


def test_a_file_given_as_workspace_is_not_offered_to_init(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    out = tito("status", "--workspace", str(afile))
    assert out.returncode == 1
    assert "is a file, not a tito workspace" in out.stderr
    assert "`tito init /" not in out.stderr and afile.read_text() == "mine"


def test_suggested_commands_carry_a_workspace_named_on_the_command_line(
    workspace, tmp_path
):
    import os

    ws = ["--workspace", str(workspace.root)]
    here = os.getcwd()
    os.chdir(tmp_path)  # a folder with no workspace of its own
    try:
        started = tito("module", "start", "2", *ws)
        locked = tito("milestone", "run", "1", *ws)
    finally:
        os.chdir(here)
    flag = f"--workspace {workspace.root}"
    assert f"`tito module test 02 {flag}`" in started.stdout, started.stdout
    assert f"`tito module test 02 {flag}`" in locked.stderr, locked.stderr


def test_dev_build_refuses_a_package_it_did_not_make_and_rebuilds_its_own(tmp_path):
    own = tmp_path / "own" / "tinytorch"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("MY INIT")
    out = tito("dev", "build", str(tmp_path / "own"))
    assert out.returncode == 1 and "was not made by `tito dev build`" in out.stderr
    assert (own / "__init__.py").read_text() == "MY INIT"

    fresh = tmp_path / "ref"
    assert tito("dev", "build", str(fresh)).returncode == 0
    again = tito("dev", "build", str(fresh))
    assert again.returncode == 0, again.stderr


def test_dev_build_refuses_an_empty_folder_name(tmp_path):
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        out = tito("dev", "build", "")
    finally:
        os.chdir(here)
    assert out.returncode == 1 and "empty" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and list(tmp_path.iterdir()) == []


def test_failed_checks_with_the_same_message_share_one_row():
    from tito.cli.module import _grouped

    problems = [
        ("test_a", "NotImplementedError: Exercise f"),
        ("test_b", "NotImplementedError: Exercise g"),
        ("test_c", "NotImplementedError: Exercise f"),
        ("test_d", "NotImplementedError: Exercise f"),
    ]
    assert _grouped(problems) == [
        ["test_a and 2 more", "NotImplementedError: Exercise f"],
        ["test_b", "NotImplementedError: Exercise g"],
    ]


def test_milestone_run_without_a_milestone_says_what_is_missing():
    out = tito("milestone", "run")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    what, todo = out.stderr.strip().splitlines()
    assert "Missing the milestone" in what and "`tito milestone list`" in todo

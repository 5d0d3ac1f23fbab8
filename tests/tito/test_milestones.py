"""Milestones: refused while locked, run with the learner's package, best kept."""

import json
from pathlib import Path

import pytest

from tito import progress
from tito.errors import TitoError
from tito.journey import check_module
from tito.milestones import best_result, results_path, run_milestone
from tito.workspace import start_module


def _solve(ws):
    m = ws.course.module(2)
    path, _, _ = start_module(ws, m)
    text = path.read_text()
    text = text.replace(
        'raise NotImplementedError(\\"Exercise double (module 02): '
        'replace this line with your code.\\")',
        "return 2 * x",
    ).replace(
        'raise NotImplementedError(\\"Exercise Doubler.__call__ (module 02): '
        'replace this line with your code.\\")',
        "return double(x)",
    )
    path.write_text(text)
    assert check_module(ws, m, timeout=120).passed


def test_locked_milestone_is_refused_naming_the_fix(workspace):
    ms = workspace.course.milestone("01")
    with pytest.raises(TitoError) as info:
        run_milestone(workspace, ms, [])
    assert "02_doubling is not started" in info.value.what
    assert "`tito module start 02`" in info.value.todo
    assert not results_path(workspace, ms).exists()


def test_run_passes_options_and_keeps_the_best(workspace):
    _solve(workspace)
    ms = workspace.course.milestone("demo")
    assert run_milestone(workspace, ms, ["--scale", "5"]) == (0, _result(10.0))
    assert json.loads(results_path(workspace, ms).read_text())["value"] == 10.0
    assert run_milestone(workspace, ms, ["--scale", "2", "--quick"])[1]["quick"]
    best = best_result(workspace, ms, progress.load(workspace.root))
    assert best["value"] == 10.0 and best["quick"] is False


def _result(value, quick=False, dataset="real"):
    return {
        "milestone": "01_demo",
        "metric": "score",
        "value": value,
        "quick": quick,
        "dataset": dataset,
    }


def test_a_run_that_writes_no_result_reports_none(workspace):
    _solve(workspace)
    ms = workspace.course.milestone("demo")
    assert run_milestone(workspace, ms, ["--scale", "5"]) == (0, _result(10.0))
    assert run_milestone(workspace, ms, ["--scale", "3", "--no-save"]) == (0, {})
    runs = progress.load(workspace.root)["milestones"][ms.slug]["runs"]
    assert runs == [_result(10.0)]


def test_the_closing_line_reports_this_run_then_the_best(workspace):
    from conftest import tito

    _solve(workspace)
    ws = ["--workspace", str(workspace.root)]
    assert tito("milestone", "run", "1", "--scale", "5", *ws).returncode == 0
    out = tito("milestone", "run", "1", "--scale", "2", *ws).stdout
    assert "this run score 4 on real" in out and "best so far score 10" in out, out
    out = tito("milestone", "run", "1", "--scale", "9", "--quick", *ws).stdout
    assert "tried (quick, real): score 18" in out and "best so far score 10" in out
    out = tito("milestone", "run", "1", "--scale", "8", "--no-save", *ws).stdout
    assert out.strip() == "score 16.0", out


def test_loss_metrics_prefer_the_lowest(workspace):
    ms = workspace.course.milestone("demo")
    object.__setattr__(ms, "metric", "val_loss")
    with progress.update(workspace.root) as record:
        record["milestones"][ms.slug] = {"runs": [{"value": 2.0}, {"value": 1.5}]}
    assert best_result(workspace, ms, progress.load(workspace.root))["value"] == 1.5


def _state(ws):
    from tito.state import milestone_state

    return milestone_state(ws, ws.course.milestone(1), progress.load(ws.root))


def test_a_changed_given_module_locks_and_reset_restores_it(workspace):
    from tito.workspace import reset_module

    _solve(workspace)
    assert _state(workspace).status == "unlocked"
    core = workspace.exported(workspace.course.module(1))
    core.write_text(core.read_text() + "\n# my edit\n")
    state = _state(workspace)
    assert state.status == "locked"
    assert [(s.module.slug, s.status, s.fix) for s in state.missing] == [
        ("01_counting", "changed", "tito module reset 01")
    ]

    reset_module(workspace, workspace.course.module(1))
    assert "my edit" not in core.read_text()
    assert _state(workspace).status == "unlocked"


def test_a_failing_given_module_locks(workspace):
    _solve(workspace)
    core = workspace.exported(workspace.course.module(1))
    core.write_text(core.read_text().replace("return x + 1", "return x + 2"))
    assert not check_module(workspace, workspace.course.module(1), 120).passed
    state = _state(workspace)
    assert state.status == "locked"
    assert state.missing[0].status == "failing"


def test_quick_and_practice_runs_are_tries_not_achievements(workspace):
    from conftest import tito

    _solve(workspace)
    ms = workspace.course.milestone(1)
    ws = ["--workspace", str(workspace.root)]
    listed = tito("status", *ws, env={"COLUMNS": "300"})  # from elsewhere:
    hint = f"run: tito milestone run 01 --workspace {workspace.root}"
    assert hint in listed.stdout, listed.stdout  # the hint names the workspace
    assert run_milestone(workspace, ms, ["--scale", "9", "--quick"])[0] == 0
    assert run_milestone(workspace, ms, ["--scale", "7", "--dataset", "shapes"])[0] == 0
    state = _state(workspace)
    assert state.status == "unlocked" and state.best is None
    assert state.tried["value"] == 14.0  # the latest try, not the largest

    listed = tito("milestone", "list", *ws, env={"COLUMNS": "200"})
    assert "unlocked" in listed.stdout and "tried (shapes): score 14" in (
        listed.stdout
    ), listed.stdout

    assert run_milestone(workspace, ms, ["--scale", "2"])[0] == 0
    state = _state(workspace)
    assert state.status == "achieved" and state.best["value"] == 4.0
    listed = tito("milestone", "list", *ws, env={"COLUMNS": "200"})
    assert "best score 4 on real" in listed.stdout, listed.stdout


def test_a_full_run_achieves_only_when_it_reaches_the_goal(course_dir, tmp_path):
    from conftest import tito

    from tito.course import load_course
    from tito.workspace import init_workspace

    yaml = course_dir / "course.yaml"
    yaml.write_text(
        yaml.read_text().replace(
            "    metric: score\n", "    metric: score\n    goal: 8\n"
        )
    )
    ws, _ = init_workspace(load_course(course_dir), tmp_path / "ws")
    _solve(ws)
    args = ["--workspace", str(ws.root)]
    out = tito("milestone", "run", "1", "--scale", "2", *args).stdout  # score 4
    assert "this run score 4 on real; the goal is score 8 or more" in out, out
    state = _state(ws)
    assert state.status == "unlocked" and state.best["value"] == 4.0
    shown = tito("status", *args, env={"COLUMNS": "300"}).stdout
    assert "best score 4 on real; the goal: score 8 or more" in shown, shown
    out = tito("milestone", "run", "1", "--scale", "4", *args)  # score 8
    assert out.returncode == 0 and _state(ws).status == "achieved"  # exactly
    assert "milestone achieved (the goal: score 8 or more)." in out.stdout, out.stdout


def test_the_course_goals_compare_the_right_field():
    from tito.course import load_course

    course = load_course(Path(__file__).resolve().parents[2])
    cnn, gpt = course.milestone("04"), course.milestone("05")
    assert cnn.reached_by({"value": 0.75}) and not cnn.reached_by({"value": 0.7499})
    per_char = {"value": 3.1, "val_loss_per_character": 1.85}  # a BPE run's losses
    assert gpt.reached_by(per_char)
    assert not gpt.reached_by({"value": 1.5})  # no per-character loss: not known
    assert gpt.describe_goal() == "val_loss_per_character 1.9 or less"

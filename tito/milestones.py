"""Milestones: run a training script against the learner's package, keep results.

A milestone runs only while its gate is open (see `state`). The script runs as
`python <script> --workspace WS [options]`, with WS first on PYTHONPATH and
TITO_WORKSPACE=WS; it writes `WS/milestones/<NN_name>/results.json`, which is
copied into the progress record after every run so the best result is kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tito.course import Milestone
from tito.errors import TitoError
from tito.workspace import Workspace


def results_path(ws: Workspace, ms: Milestone) -> Path:
    return ws.root / "milestones" / ms.slug / "results.json"


def read_results(ws: Workspace, ms: Milestone) -> list[dict]:
    """The result(s) in results.json: a dict, or a list of dicts; [] if none."""
    path = results_path(ws, ms)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    items = data if isinstance(data, list) else [data]
    return [r for r in items if isinstance(r, dict) and _number(r.get("value"))]


# The small sets tito generates for tests and offline demos (tito.datasets):
# a run on them, or a --quick run, is a try, never an achievement.
PRACTICE_DATASETS = ("shapes", "tiny")


def counts(result: dict) -> bool:
    """True for a full run on real data: the only kind that achieves a milestone."""
    return not result.get("quick") and result.get("dataset") not in PRACTICE_DATASETS


def all_results(ws: Workspace, ms: Milestone, record: dict) -> list[dict]:
    runs = list(record["milestones"].get(ms.slug, {}).get("runs", []))
    runs += [r for r in read_results(ws, ms) if r not in runs]
    return [r for r in runs if isinstance(r, dict) and _number(r.get("value"))]


def best_result(ws: Workspace, ms: Milestone, record: dict) -> dict | None:
    """The best full run on real data: highest value, or lowest for a loss."""
    runs = [r for r in all_results(ws, ms, record) if counts(r)]
    if not runs:
        return None
    metric = ms.metric or runs[0].get("metric", "")
    lower = "loss" in metric or "perplexity" in metric
    return (min if lower else max)(runs, key=lambda r: r["value"])


def achieved(ws: Workspace, ms: Milestone, record: dict) -> bool:
    """Whether a full run on real data has reached the milestone's goal."""
    return any(counts(r) and ms.reached_by(r) for r in all_results(ws, ms, record))


def latest_try(ws: Workspace, ms: Milestone, record: dict) -> dict | None:
    """The most recent quick or practice run: their data differ from run to run,
    so their values are not compared."""
    runs = [r for r in all_results(ws, ms, record) if not counts(r)]
    return runs[-1] if runs else None


def locked_error(ms: Milestone, missing) -> TitoError:
    parts = [f"{s.module.slug} is {s.status}" for s in missing]
    fixes = ", then ".join(dict.fromkeys(f"`{s.fix}`" for s in missing))
    return TitoError(
        f"Milestone {ms.slug} is locked: {', '.join(parts)}.",
        f"To unlock it: {fixes}, until each module passes.",
    )


def script_path(course, ms: Milestone) -> Path:
    script = course.path(ms.script)
    if not script.is_file():
        raise TitoError(
            f"Milestone {ms.slug} has no script at {script}.",
            "The course is incomplete: add the script named in course.yaml.",
        )
    return script


def script_help(course, ms: Milestone) -> int:
    """Show the milestone script's own --help (no workspace or gate needed)."""
    from tito import processes

    return processes.call([sys.executable, str(script_path(course, ms)), "--help"])


def run_milestone(ws: Workspace, ms: Milestone, args: list[str]) -> tuple[int, dict]:
    """Run the milestone's script (the gate must be open).

    Returns its exit code and the result this run wrote ({} if none: a failed
    run, or one that only sampled).
    """
    from tito import processes, progress
    from tito.checks import workspace_env
    from tito.milestone_script import COMMAND_VAR
    from tito.state import milestone_state

    state = milestone_state(ws, ms, progress.load(ws.root))
    if state.status == "locked":
        raise locked_error(ms, state.missing)
    script = script_path(ws.course, ms)

    env = workspace_env(ws.root)
    env.pop("TITO_WORKSPACE_UNDER_TEST")
    env["TITO_WORKSPACE"] = str(ws.root)
    env[COMMAND_VAR] = f"tito milestone run {ms.number:02d}"
    command = [sys.executable, str(script), "--workspace", str(ws.root), *args]
    before = _stamp(results_path(ws, ms))
    code = processes.call(command, cwd=ws.root, env=env)

    fresh = _stamp(results_path(ws, ms)) != before
    results = read_results(ws, ms) if code == 0 and fresh else []
    if results:
        with progress.update(ws.root) as record:
            entry = record["milestones"].setdefault(ms.slug, {})
            runs = entry.setdefault("runs", [])
            runs.extend(r for r in results if r not in runs)
    return code, (results[-1] if results else {})


def _stamp(path: Path) -> tuple[int, int] | None:
    """When a file last changed, and its size; None if it is absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

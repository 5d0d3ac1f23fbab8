"""Where a learner stands: each module's status and each milestone's gate.

A module is passing only while its last check passed on the code exported
now (same sha256); if the export changed since, it is stale. A given module
counts as done while its exported file is what `tito init` put there (or
while its own checks pass on it). A milestone is unlocked only while every
module it requires, and every given module, is done; it is achieved by a full
run on real data that reaches its goal (quick runs and the generated practice
sets are tries).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tito.course import Milestone, Module
from tito.workspace import Workspace

DONE = ("passing", "complete", "given")


@dataclass
class ModuleState:
    module: Module
    status: (
        str  # not started, started, failing, passing, complete, stale,
        # given, changed (a given module's file edited), missing
    )
    detail: str = ""
    last: dict | None = None

    @property
    def fix(self) -> str:
        """The command that moves this module on."""
        n = f"{self.module.number:02d}"
        if self.status == "not started":
            return f"tito module start {n}"
        if self.status in ("missing", "changed"):  # a given module: restore it
            return f"tito module reset {n}"
        return f"tito module test {n}"

    def to_json(self) -> dict:
        return {
            "module": self.module.slug,
            "number": self.module.number,
            "title": self.module.title,
            "status": self.status,
            "detail": self.detail,
            "last_test": self.last,
        }


@dataclass
class MilestoneState:
    milestone: Milestone
    status: str  # locked, unlocked, achieved
    missing: list[ModuleState] = field(default_factory=list)
    best: dict | None = None  # the best full run on real data
    tried: dict | None = None  # the best quick or practice-set run

    def to_json(self) -> dict:
        return {
            "milestone": self.milestone.slug,
            "number": self.milestone.number,
            "title": self.milestone.title,
            "status": self.status,
            "missing": [
                {"module": s.module.slug, "status": s.status, "fix": s.fix}
                for s in self.missing
            ],
            "best": self.best,
            "tried": self.tried,
            "goal": self.milestone.describe_goal() or None,
        }


def module_state(ws: Workspace, m: Module, record: dict) -> ModuleState:
    entry = record["modules"].get(m.slug, {})
    last = entry.get("test")
    now = ws.code_hash(m)
    if m.given and not last:
        if now is None:
            return ModuleState(m, "missing", f"no {ws.label(ws.exported(m))}")
        given = record.get("given", {}).get(m.slug)
        if given is not None and given != now:
            why = f"{ws.label(ws.exported(m))} differs from what tito init exported"
            return ModuleState(m, "changed", why)
        return ModuleState(m, "given")
    if not last:
        started = ws.notebook(m).is_file()
        return ModuleState(m, "started" if started else "not started")
    if not last.get("passed"):
        return ModuleState(m, "failing", last.get("reason", ""), last)
    if now != last.get("sha256"):
        why = "export removed" if now is None else "code changed since it passed"
        return ModuleState(m, "stale", why, last)
    complete = entry.get("complete", {}).get("sha256") == now
    detail = last.get("reason", "")
    if not ws.notebook(m).exists():  # the package still holds the passing code
        detail = (
            f"{ws.label(ws.notebook(m))} is gone; your passing code is in "
            f"{ws.label(ws.exported(m))}"
        )
    elif ws.notebook_ahead(m):
        detail = f"notebook edited since: tito module test {m.number:02d}"
    return ModuleState(m, "complete" if complete else "passing", detail, last)


def module_states(ws: Workspace, record: dict) -> list[ModuleState]:
    return [module_state(ws, m, record) for m in ws.course.modules]


def milestone_state(ws: Workspace, ms: Milestone, record: dict) -> MilestoneState:
    from tito.milestones import achieved, best_result, latest_try

    needed = [m for m in ws.course.modules if m.given]
    needed += [ws.course.module(n) for n in ms.requires]
    needed = list(dict.fromkeys(needed))
    states = [module_state(ws, m, record) for m in needed]
    missing = [s for s in states if s.status not in DONE]
    best = best_result(ws, ms, record)
    tried = latest_try(ws, ms, record)
    if missing:
        return MilestoneState(ms, "locked", missing, best, tried)
    done = achieved(ws, ms, record)
    return MilestoneState(ms, "achieved" if done else "unlocked", [], best, tried)


def milestone_states(ws: Workspace, record: dict) -> list[MilestoneState]:
    return [milestone_state(ws, ms, record) for ms in ws.course.milestones]

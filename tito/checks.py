"""Running a module's checks: pytest in a subprocess, against a workspace's package.

The workspace goes first on the path (PYTHONPATH, and the working folder) and
TITO_WORKSPACE_UNDER_TEST tells the checks' conftest not to export the reference.
The verdict comes from pytest's JUnit XML report, never from its printed text:
a pass needs a report, exit code 0, no failure or error, and at least one test
that passed. No tests, a crash, a hang past the limit, or a kill is a failure.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.course import Course, Module
from tito.errors import TitoError

_EXIT_REASONS = {
    1: "some checks failed",
    2: "pytest was interrupted or could not collect the checks",
    3: "pytest hit an internal error",
    4: "pytest was called wrongly",
    5: "no checks were collected",
}


@dataclass
class CheckResult:
    passed: bool
    reason: str
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    returncode: int | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    output: str = ""
    broken: dict | None = None  # a collection error: {"file", "line", "error"}
    timed_out: bool = False

    @property
    def collected(self) -> bool:
        return self.broken is None

    @property
    def ran(self) -> int:
        return self.tests - self.skipped

    @property
    def passed_count(self) -> int:
        return self.tests - self.skipped - self.failures - self.errors

    def to_json(self) -> dict:
        data = asdict(self)
        data["problems"] = [{"test": t, "message": msg} for t, msg in self.problems]
        data.pop("output")
        return data


def check_file(course: Course, m: Module) -> Path:
    path = course.path(m.checks)
    if not path.is_file():
        raise TitoError(
            f"Module {m.slug} has no checks at {path}.",
            "The installed course is incomplete: reinstall tito (in a checkout, "
            "restore that file).",
        )
    return path


def run_checks(
    course: Course, workspace: Path, m: Module, timeout: float = 300.0, extra=()
) -> CheckResult:
    """Run module m's checks against `workspace`'s package in a subprocess."""
    tests = check_file(course, m)
    with tempfile.TemporaryDirectory(prefix="tito-checks-") as tmp:
        report = Path(tmp) / "report.xml"
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        command = [
            sys.executable, "-m", "pytest", str(tests), "-c", str(ini),
            "--rootdir", str(tests.parent), "--confcutdir", str(tests.parent),
            "-p", "no:cacheprovider", "-o", "junit_family=xunit2",
            f"--junitxml={report}", "-q", "--tb=short", "-rfE", *extra,
        ]  # fmt: skip
        start = time.monotonic()
        code, output = _run(command, workspace, timeout)
        seconds = time.monotonic() - start
        if code is None:
            why = f"timed out after {timeout:g} s"
            return CheckResult(
                False, why, seconds=seconds, output=output, timed_out=True
            )
        result = _verdict(code, report, output)
        result.seconds = seconds
        return result


def workspace_env(workspace: Path) -> dict:
    """The environment for code run against `workspace`'s package."""
    env = dict(os.environ)
    paths = [str(workspace), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["TITO_WORKSPACE_UNDER_TEST"] = str(workspace)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # checks need no third-party plugin
    return env


def _run(command: list[str], workspace: Path, timeout: float):
    """(exit code or None on timeout, combined output); the whole group is stopped."""
    from tito import processes

    return processes.run(command, timeout, cwd=workspace, env=workspace_env(workspace))


def _verdict(code: int, report: Path, output: str) -> CheckResult:
    if code < 0:
        return CheckResult(
            False, f"killed by signal {-code}", returncode=code, output=output
        )
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        why = _EXIT_REASONS.get(code, f"pytest exited with code {code}")
        return CheckResult(
            False, f"{why}; pytest wrote no report", returncode=code, output=output
        )

    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in _COUNTS}
    problems = _problems(root)
    result = CheckResult(
        False, "", returncode=code, problems=problems, output=output, **counts
    )
    result.broken = _collection_error(root)
    if result.broken is not None:
        result.reason = "the checks could not be collected"
    elif (
        code == 0 and result.failures == result.errors == 0 and result.passed_count > 0
    ):
        result.passed, result.reason = True, f"{result.passed_count} passed"
    elif result.passed_count <= 0 and not (result.failures or result.errors):
        result.reason = (
            "no checks ran" if code in (0, 5) else _EXIT_REASONS.get(code, "")
        )
    else:
        result.reason = _EXIT_REASONS.get(code, f"pytest exited with code {code}")
    return result


_COUNTS = ("tests", "failures", "errors", "skipped")
_FRAME = re.compile(
    r'^(?:E\s+File "(?P<file>[^"]+)", line (?P<line>\d+)'
    r"|(?P<path>[^\s:][^:]*):(?P<number>\d+): in )"
)


def _collection_error(root) -> dict | None:
    """The first collection error: its innermost file and line, and its last line."""
    for case in root.iter("testcase"):
        for child in case:
            if child.tag == "error" and child.get("message") == "collection failure":
                return _innermost(child.text or "")
    return None


def _innermost(text: str) -> dict:
    found = {"file": "", "line": 0, "error": ""}
    for raw in text.splitlines():
        m = _FRAME.match(raw)
        if m:
            found["file"] = m["file"] or m["path"]
            found["line"] = int(m["line"] or m["number"])
        elif raw.startswith("E   ") and not raw.startswith("E    "):
            found["error"] = raw[4:].strip()
    return found


def _problems(root) -> list[tuple[str, str]]:
    found = []
    for case in root.iter("testcase"):
        for child in case:
            if child.tag in ("failure", "error"):
                name = case.get("name", "?")
                message = (child.get("message") or child.text or "").strip()
                first = message.splitlines()[0] if message else child.tag
                found.append((name, first[:200]))
    return found

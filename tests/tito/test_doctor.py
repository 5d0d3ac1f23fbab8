"""Doctor: findings are measured, and a missing workspace is a finding, not a crash."""

import sys

from tito.doctor import diagnose


def test_findings_cover_each_area(course, workspace):
    findings = diagnose(workspace.root)
    areas = {f.area for f in findings}
    assert {"python", "package", "course", "workspace", "kernel"} <= areas
    python = next(f for f in findings if f.area == "python")
    assert python.ok and sys.executable in python.detail
    templates = next(f for f in findings if f.item == "templates")
    assert templates.ok and templates.detail == "2 of 2"


def test_missing_workspace_is_reported(course, tmp_path):
    findings = diagnose(tmp_path / "none")
    ws = next(f for f in findings if f.area == "workspace")
    assert not ws.ok and "tito init" in ws.detail

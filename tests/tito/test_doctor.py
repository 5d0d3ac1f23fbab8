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
    assert not ws.ok and f"tito init {tmp_path / 'none'}" in ws.detail
    assert ws.required  # it was named with --workspace: doctor exits 1


def test_jupyter_without_a_front_end_is_reported_missing(tmp_path, monkeypatch):
    from tito.doctor import _kernels

    (tmp_path / "jupyter").write_text("#!/bin/sh\n")
    (tmp_path / "jupyter").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    finding = next(f for f in _kernels() if f.item == "jupyterlab")
    assert not finding.ok and "pip install jupyterlab" in finding.detail

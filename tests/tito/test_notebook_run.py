"""Running a notebook top to bottom: first failing cell named, time limit per cell."""

import nbformat

from tito.notebook_run import run_notebook


def _notebook(path, sources, kernel="some-kernel-not-installed"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title")] + [
        nbformat.v4.new_code_cell(s) for s in sources
    ]
    nbformat.write(nb, path)
    return path


def test_runs_with_this_python_and_the_workspace_package(tmp_path):
    pkg = tmp_path / "tinytorch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("VALUE = 41\n")
    path = _notebook(
        tmp_path / "nb.ipynb",
        [
            "import sys, tinytorch\nexe = sys.executable",
            "assert tinytorch.VALUE + 1 == 42",
        ],
    )
    before = path.read_bytes()
    run = run_notebook(path, tmp_path, cell_timeout=60)
    assert run.passed, run.error
    assert run.cells == 2  # code cells that ran; the markdown title is not counted
    assert path.read_bytes() == before  # the learner's file is not touched


def test_first_failing_cell_is_reported_by_number_and_first_line(tmp_path):
    path = _notebook(
        tmp_path / "nb.ipynb",
        [
            "x = 1",
            "y = x + 1\nassert y == 3, 'y is wrong'",
            "raise SystemError('later')",
        ],
    )
    run = run_notebook(path, tmp_path, cell_timeout=60)
    assert not run.passed
    assert run.failed_cell == 3  # markdown is cell 1
    assert run.first_line == "y = x + 1"
    assert "AssertionError" in run.error and "y is wrong" in run.error


def test_a_cell_past_its_time_limit_fails(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", ["import time\ntime.sleep(60)"])
    run = run_notebook(path, tmp_path, cell_timeout=2)
    assert not run.passed and run.failed_cell == 2
    assert "Timeout" in run.error or "timed out" in run.error

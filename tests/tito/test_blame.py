"""A learner's broken code is shown where it is: the exported file and line,
the notebook cell, and the module to fix; never as "0 of 1 passed"."""

import nbformat
import pytest
from conftest import tito

from tito.errors import TitoError
from tito.workspace import export_module, start_module


def _edit_export_cell(ws, text):
    """Put `text` at the top of the exported cell (cell 3) of module 02."""
    m = ws.course.module(2)
    path, _, _ = start_module(ws, m)
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[2]
    assert cell.source.startswith("#| export")
    cell.source = cell.source.replace("#| export\n", f"#| export\n{text}\n", 1)
    nbformat.write(nb, path)
    return m


def test_a_syntax_error_is_refused_at_export_naming_cell_and_line(workspace):
    m = _edit_export_cell(workspace, "import math\ndef oops(:\n    pass")
    with pytest.raises(TitoError) as info:
        export_module(workspace, m)
    assert "cell 3, line 3: SyntaxError" in info.value.what
    assert "def oops(:" in info.value.what
    assert not workspace.exported(m).exists()


def test_syntax_error_through_the_cli_is_two_lines(workspace):
    _edit_export_cell(workspace, "def oops(:\n    pass")
    out = tito("module", "test", "2", "--workspace", str(workspace.root))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and "cell 3, line 2: SyntaxError" in lines[0], out.stderr


def test_an_import_time_error_names_file_line_and_cell(workspace):
    _edit_export_cell(workspace, "import math\nvalue = undefined_name")
    out = tito("module", "test", "2", "--workspace", str(workspace.root))
    assert out.returncode == 1
    text = out.stdout
    assert "the checks could not be collected" in text, text
    # the exported file: header, blank, then the cell's body from line 3
    assert "tinytorch/ops/double.py, line 4: NameError" in text, text
    assert "undefined_name" in text
    assert "cell 3, line 3 of 02_doubling/doubling.ipynb" in text
    assert "Fix module 02_doubling's notebook" in text
    assert " of 1 passed" not in text


def test_a_broken_given_module_is_named(workspace):
    core = workspace.exported(workspace.course.module(1))
    core.write_text(core.read_text() + "\nraise RuntimeError('core broke')\n")
    ws = ["--workspace", str(workspace.root)]
    tito("module", "start", "2", *ws)
    out = tito("module", "test", "2", *ws)
    assert out.returncode == 1
    assert "tinytorch/core.py, line" in out.stdout, out.stdout
    assert "RuntimeError: core broke" in out.stdout
    assert "Module 01_counting is broken" in out.stdout
    assert "tito module reset 01" in out.stdout


def test_a_name_the_notebook_no_longer_exports_blames_the_notebook(workspace):
    m = workspace.course.module(2)
    path, _, _ = start_module(workspace, m)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # rename the exported function: the checks import it
        cell.source = cell.source.replace("def double(", "def twice(")
    nbformat.write(nb, path)
    out = tito("module", "test", "2", "--workspace", str(workspace.root))
    assert out.returncode == 1
    text = out.stdout
    assert "tinytorch.ops.double has no `double`" in text, text
    assert "02_doubling/doubling.ipynb" in text and "#| export" in text
    assert "Fix module 02_doubling's notebook" in text
    assert "test_02_doubling.py" not in text  # not the course's own check file

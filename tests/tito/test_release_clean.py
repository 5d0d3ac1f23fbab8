"""The clean transform: deterministic notebooks, outputs cleared, marked generated."""

import json

import nbformat

from tito.release.clean import clean_notebook, notebook_text

CELLS = [("markdown", "# Title"), ("code", "#| default_exp core"), ("raw", "r")]


def test_same_cells_give_identical_bytes():
    a = notebook_text(clean_notebook(CELLS, "solutions/01_x.py", "01_x"))
    b = notebook_text(clean_notebook(CELLS, "solutions/01_x.py", "01_x"))
    assert a == b


def test_notebook_is_valid_cleared_and_marked():
    text = notebook_text(clean_notebook(CELLS, "solutions/01_x.py", "01_x"))
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "raw"]
    code = nb.cells[1]
    assert code.outputs == [] and code.execution_count is None
    assert [c.id for c in nb.cells] == ["01_x-000", "01_x-001", "01_x-002"]
    marker = nb.metadata["tito"]
    assert marker["source"] == "solutions/01_x.py"
    assert "Generated" in marker["generated"]
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_text_is_sorted_json_with_trailing_newline():
    text = notebook_text(clean_notebook(CELLS, "s.py", "01_x"))
    assert text.endswith("}\n")
    data = json.loads(text)
    assert list(data) == sorted(data)

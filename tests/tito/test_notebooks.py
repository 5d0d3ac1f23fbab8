"""Reading notebooks: directives, bodies, and unreadable files named."""

import pytest

from tito.errors import TitoError
from tito.notebooks import Cell, read_cells


def test_directives_and_body():
    cell = Cell("code", "#| export\n#| hide\nx = 1\n#| not a directive")
    assert cell.directives == {"export": "", "hide": ""}
    assert cell.body == "x = 1\n#| not a directive"


def test_percent_source_reads_as_cells(course):
    cells = read_cells(course.path("solutions/02_doubling.py"))
    assert cells[0].kind == "markdown"
    assert cells[1].directives == {"default_exp": "ops.double"}


def test_unreadable_notebook_names_the_file(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    with pytest.raises(TitoError, match="broken.ipynb is not a readable notebook"):
        read_cells(path)

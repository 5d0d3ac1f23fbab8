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


@pytest.mark.parametrize(
    "text",
    ['{"cells": [', '{"cells": 5}', "[]", '{"cells": [{"cell_type": 3}]}'],
)
def test_unreadable_notebook_names_the_file(tmp_path, text):
    path = tmp_path / "broken.ipynb"
    path.write_text(text)
    with pytest.raises(TitoError, match="broken.ipynb is not a readable notebook"):
        read_cells(path)


def test_unreadable_notebook_hint_names_the_module_and_only_real_backups(tmp_path):
    folder = tmp_path / "08_dataloader"
    folder.mkdir()
    path = folder / "dataloader.ipynb"
    path.write_text('{"cells": [')
    with pytest.raises(TitoError) as info:
        read_cells(path)
    assert "`tito module reset 08`" in info.value.todo
    assert "backup" not in info.value.todo.split("(")[0]

    import nbformat

    good = folder / "dataloader.backup-20260101-120000.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), good)
    (folder / "dataloader.backup-20260102-120000.ipynb").write_text("{}")  # newer
    with pytest.raises(TitoError) as info:
        read_cells(path)
    assert good.name in info.value.todo and "20260102" not in info.value.todo
    assert "`tito module reset 08`" in info.value.todo


def test_a_notebook_that_is_not_json_is_named_with_its_line(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{\n "cells": [\n  {"cell_type": "code",, }\n ]\n}\n')
    with pytest.raises(TitoError, match=r"line 3 column"):
        read_cells(path)

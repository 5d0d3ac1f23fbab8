"""The release pipeline: templates written, checked, never in a workspace."""

import pytest

from tito.errors import TitoError
from tito.release.build import release, template_cells


def test_templates_are_written_then_unchanged(course):
    first = {o.module.slug: o.state for o in release(course)}
    assert first == {"01_counting": "unchanged", "02_doubling": "unchanged"}
    template = course.path("modules/02_doubling/doubling.ipynb")
    assert template.is_file()


def test_check_reports_a_stale_template_without_writing(course):
    solution = course.path("solutions/02_doubling.py")
    solution.write_text(solution.read_text() + "\n# %%\nprint('new cell')\n")
    template = course.path("modules/02_doubling/doubling.ipynb")
    before = template.read_bytes()

    states = {o.module.slug: o.state for o in release(course, check=True)}
    assert states["02_doubling"] == "stale"
    assert template.read_bytes() == before

    release(course)
    assert "new cell" in template.read_text()
    assert all(o.state == "unchanged" for o in release(course, check=True))


def test_missing_template_is_out_of_date(course):
    course.path("modules/01_counting/counting.ipynb").unlink()
    outcomes = release(course, check=True)
    assert [o.out_of_date for o in outcomes] == [True, False]


def test_exercise_cells_are_stubbed_and_hidden_tests_dropped(course):
    cells = template_cells(course, course.module(2))
    code = "\n".join(text for kind, text in cells if kind == "code")
    assert "return x + x" not in code
    assert "Exercise double (module 02)" in code
    assert "Exercise Doubler.__call__ (module 02)" in code
    assert "double(-2)" not in code and "HIDDEN" not in code
    assert "assert double(3) == 6" in code


def test_given_module_template_is_complete(course):
    cells = template_cells(course, course.module(1))
    code = "\n".join(text for kind, text in cells if kind == "code")
    assert "return x + 1" in code and "NotImplementedError" not in code


def test_release_refuses_a_course_inside_a_workspace(course):
    (course.root / ".tito").mkdir()
    with pytest.raises(TitoError, match="workspace"):
        release(course)


def test_a_solution_whose_export_cell_does_not_compile_is_refused(course):
    solution = course.path("solutions/02_doubling.py")
    solution.write_text(solution.read_text() + "\n# %%\n#| export\ndef broken(:\n")
    template = course.path("modules/02_doubling/doubling.ipynb")
    before = template.read_bytes()
    with pytest.raises(TitoError, match="cell"):
        release(course)
    assert template.read_bytes() == before

"""course.yaml: lookups by any spelling; malformed files named, with the key."""

import pytest

from tito.course import load_course
from tito.errors import TitoError


@pytest.mark.parametrize("key", ["2", "02", "02_doubling", "doubling", " Doubling "])
def test_module_lookup_accepts_every_spelling(course, key):
    assert course.module(key).slug == "02_doubling"


@pytest.mark.parametrize("key", ["", "  "])
def test_an_empty_key_is_an_error(course, key):
    with pytest.raises(TitoError, match="module name is empty"):
        course.module(key)
    with pytest.raises(TitoError, match="milestone name is empty"):
        course.milestone(key)


def test_unknown_module_lists_the_known_ones(course):
    with pytest.raises(TitoError) as info:
        course.module("99")
    assert "01_counting, 02_doubling" in info.value.todo


def test_real_course_loads_with_milestone_cnn():
    course = load_course()
    assert course.milestone("cnn").slug == "04_cnn"
    assert course.module("9").target == "nn.conv"


@pytest.mark.parametrize(
    "text, fragment",
    [
        (
            "package: tinytorch\nmodules: {}\nmilestones: []\n",
            "modules should be a list",
        ),
        (
            "package: t\nmodules:\n  - number: one\n",
            "modules[0].number should be a int",
        ),
        ("package: t\nmodules:\n  - {number: 1}\n", "modules[0] has no 'name'"),
        ("package: [\n", "not valid YAML, line 2, column 1"),
        (
            "package: t\nmodules:\n  - {number: 1, name: a, title: A, "
            "target: nn/conv, checks: c.py}\nmilestones: []\n",
            "modules[0].target is 'nn/conv'",
        ),
        (
            "package: t\nmodules:\n  - {number: 1, name: a, title: A, "
            "target: a, checks: c.py, requires: [42]}\nmilestones: []\n",
            "requires module 42",
        ),
        (
            "package: t\nmodules:\n  - {number: 1, name: a, title: A, "
            "target: a, checks: c.py}\nmilestones:\n  - {number: 4, name: m, "
            "title: M, script: s.py, requires: [42]}\n",
            "'m' requires module 42",
        ),
    ],
)
def test_malformed_course_names_file_key_and_expectation(tmp_path, text, fragment):
    (tmp_path / "course.yaml").write_text(text)
    with pytest.raises(TitoError) as info:
        load_course(tmp_path)
    assert str(tmp_path / "course.yaml") in info.value.what
    assert fragment in info.value.what


@pytest.mark.parametrize("kind", ["a file", "nothing"])
def test_a_tito_course_that_is_no_folder_is_named(kind, monkeypatch, tmp_path):
    from tito.course import course_root

    where = tmp_path / "course"
    if kind == "a file":
        where.write_text("not a course")
    monkeypatch.setenv("TITO_COURSE", str(where))
    with pytest.raises(TitoError, match="which is not a folder") as info:
        course_root()
    assert str(where) in info.value.what and "TITO_COURSE" in info.value.todo

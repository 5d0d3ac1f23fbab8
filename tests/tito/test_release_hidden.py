"""The hidden-tests transform drops exactly the marked blocks."""

import pytest

from tito.errors import TitoError
from tito.release.hidden import drop_hidden_tests


def test_drops_block_and_markers():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nb = 2"
    assert drop_hidden_tests(source) == "a = 1\nb = 2"


def test_drops_every_block_and_keeps_the_rest():
    source = (
        "x\n### BEGIN HIDDEN TESTS\nh1\n### END HIDDEN TESTS\ny\n"
        "    ### BEGIN HIDDEN TESTS\n    h2\n    ### END HIDDEN TESTS\nz"
    )
    assert drop_hidden_tests(source) == "x\ny\nz"


def test_source_without_markers_is_unchanged():
    assert drop_hidden_tests("def f():\n    return 1") == "def f():\n    return 1"


def test_unclosed_block_is_an_error_naming_the_place():
    with pytest.raises(TitoError, match="solutions/x.py, cell 3, line 2"):
        drop_hidden_tests("a\n### BEGIN HIDDEN TESTS\nb", "solutions/x.py, cell 3")


def test_end_without_begin_is_an_error():
    with pytest.raises(TitoError, match="without"):
        drop_hidden_tests("### END HIDDEN TESTS")

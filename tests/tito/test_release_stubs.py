"""The solution transform: regions become stubs naming the exercise."""

import pytest

from tito.errors import TitoError
from tito.release.stubs import exercise_name, stub_solutions

METHOD = """class Conv2d:
    def forward(self, x):
        y = x
        ### BEGIN SOLUTION
        out = y * 2
        return out
        ### END SOLUTION

    def backward(self, g):
        ### BEGIN SOLUTION
        return g
        ### END SOLUTION"""


def test_method_regions_become_stubs_at_their_indentation():
    out = stub_solutions(METHOD, 9).split("\n")
    assert out[3] == (
        '        raise NotImplementedError("Exercise Conv2d.forward (module 09): '
        'replace this line with your code.")'
    )
    assert "out = y * 2" not in "\n".join(out)
    assert out[2] == "        y = x"  # code before the region stays
    assert "Exercise Conv2d.backward (module 09)" in out[6]
    assert len(out) == 7


def test_stubbed_code_compiles_and_raises_when_called():
    namespace = {}
    exec(stub_solutions(METHOD, 9), namespace)
    with pytest.raises(NotImplementedError, match=r"Conv2d\.forward \(module 09\)"):
        namespace["Conv2d"]().forward(1)


def test_given_module_keeps_its_answers_without_markers():
    out = stub_solutions(METHOD, 3, given=True)
    assert "### " not in out
    assert "        out = y * 2\n        return out" in out
    namespace = {}
    exec(out, namespace)
    assert namespace["Conv2d"]().forward(3) == 6


def test_top_level_function_and_module_level_region():
    assert "Exercise collate (module 08)" in stub_solutions(
        "def collate(b):\n    ### BEGIN SOLUTION\n    return b\n    ### END SOLUTION", 8
    )
    text = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    assert stub_solutions(text, 8) == (
        'raise NotImplementedError("Exercise (module 08): '
        'replace this line with your code.")'
    )


def test_exercise_name_skips_sibling_defs_at_the_same_depth():
    lines = [
        "class A:",
        "    def helper(self):",
        "        pass",
        "    def target(self):",
        "        if True:",
        "            ### BEGIN SOLUTION",
    ]
    assert exercise_name(lines, 5) == "A.target"


def test_nested_markers_are_an_error():
    bad = "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"
    with pytest.raises(TitoError, match="second"):
        stub_solutions(bad, 1)

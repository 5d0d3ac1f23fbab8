"""Verify: solutions pass their checks, templates fail them, targets agree."""

from pathlib import Path

from tito.verify import verify_course


def test_fixture_course_verifies(course):
    results = {r.module.slug: r for r in verify_course(course, timeout=120)}
    assert results["02_doubling"].ok, results["02_doubling"].note
    assert results["02_doubling"].solution.startswith("pass")
    assert results["02_doubling"].template.startswith("fail")
    assert results["01_counting"].ok and results["01_counting"].template == "given"


def test_a_check_the_stub_passes_is_flagged(course):
    checks = course.path("tests/modules/test_02_doubling.py")
    checks.write_text("def test_nothing():\n    assert True\n")
    (result,) = verify_course(course, [course.module(2)], timeout=120)
    assert not result.ok and "template must fail" in result.note


def test_a_target_mismatch_is_flagged(course):
    solution = Path(course.path("solutions/02_doubling.py"))
    solution.write_text(solution.read_text().replace("ops.double", "ops.twice"))
    (result,) = verify_course(course, [course.module(2)], timeout=120)
    assert not result.ok and "course.yaml says ops.double" in result.note


def test_a_solution_notebook_that_does_not_run_is_flagged(course):
    solution = Path(course.path("solutions/02_doubling.py"))
    text = solution.read_text().replace(
        "assert double(3) == 6", "assert double(3) == 7, 'an inline check fails'"
    )
    solution.write_text(text)
    (result,) = verify_course(course, [course.module(2)], timeout=120)
    assert result.solution.startswith("pass")  # the module's checks still pass
    assert not result.ok and "solution notebook fails at cell" in result.note
    assert "an inline check fails" in result.note, result.note

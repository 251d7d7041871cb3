"""Generated tests in the sandbox: alone, twice, with the lines and branches they run."""

from __future__ import annotations

import pytest

from validators.testrun import (
    CandidateTest,
    ModuleUnderTest,
    SandboxUnavailable,
    function_shape,
    run_tests,
    sandbox_for,
)

MODULE = ModuleUnderTest(
    "pkg.ranges",
    "def clamp(value, low, high):\n"
    "    if value < low:\n"
    "        return low\n"
    "    if value > high:\n"
    "        return high\n"
    "    return value\n",
    {"pkg/__init__.py": ""},
)
IMPORT = "from pkg.ranges import clamp\n\n"


def candidate(name: str, body: str, head: str = IMPORT) -> CandidateTest:
    return CandidateTest(name, f"{head}def {name}():\n    {body}\n")


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("python", ["", "/usr/bin/python3"])
def test_each_test_runs_alone_twice_with_coverage(python: str) -> None:
    tests = [
        candidate("test_low", "assert clamp(-1, 0, 3) == 0"),
        candidate("test_wrong", "assert clamp(5, 0, 3) == 5"),
        # Passes the first time only: the second run finds the marker the first one left.
        candidate("test_once", "import os\n    seen = os.path.exists('/tmp/m')\n"
             "    open('/tmp/m', 'w').close()\n    assert not seen"),
        candidate("test_raises", "with pytest.raises(TypeError):\n        clamp(None, 0, 1)",
             head="import pytest\n" + IMPORT),
        candidate("test_forever", "while True:\n        pass"),
    ]
    with sandbox_for(python=python) as sandbox:
        low, wrong, once, raises, forever = run_tests(sandbox, MODULE, tests, timeout=1.0)
    assert (low.passed, low.flaky, low.error) == (True, False, "")
    assert {2, 3} <= low.lines and (2, 3) in low.arcs and 5 not in low.lines
    assert not wrong.passed and wrong.error == "AssertionError: assert clamp(5, 0, 3) == 5"
    assert once.flaky and not once.passed
    assert raises.passed  # pytest is importable inside the sandbox
    assert not forever.passed and "timed out" in forever.error


def test_function_shape_counts_the_body_and_its_branches() -> None:
    shape = function_shape(MODULE.text, 1, 6)
    assert shape.lines == {2, 3, 4, 5, 6}
    assert shape.branches == {(2, 3), (2, 4), (4, 5), (4, 6)}


def test_an_interpreter_that_does_not_run_is_a_clear_error() -> None:
    with pytest.raises(SandboxUnavailable, match="cannot run the test interpreter"):
        sandbox_for(python="/no/such/python")

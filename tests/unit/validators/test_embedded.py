"""Turning the runner's reports into the embedded tests' verdicts."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from validators.base import Splice, Verdict
from validators.embedded import (
    SYSTEM_PYTHON,
    EmbeddedTestsValidator,
    hole_filled,
    project_python,
)
from validators.execution import Report
from validators.sandbox import Sandbox, SandboxLimits


def test_a_failing_check_fails_the_candidate() -> None:
    verdict = EmbeddedTestsValidator().verdict_for(Report(True, checks=(True, False)), 2)
    assert not verdict.ok and verdict.reason == "fails 1 of 2 embedded tests"


def test_checks_skipped_for_time_are_no_evidence_against_a_candidate() -> None:
    verdict = EmbeddedTestsValidator().verdict_for(Report(True, checks=(True, None)), 2)
    assert verdict.ok and verdict.passed == 1 and verdict.total == 2
    assert verdict.detail == "1 of 2 not run: the time budget was spent"


def test_a_program_that_does_not_load_fails() -> None:
    verdict = EmbeddedTestsValidator().verdict_for(Report(False, "NameError: x"), 1)
    assert not verdict.ok and verdict.detail == "NameError: x"


def test_hole_filled_is_the_module_without_a_candidate() -> None:
    under_opener = "def f(x):\n    if x:\n\n    return 0\n"
    cursor = under_opener.index("\n\n") + 1
    assert hole_filled(under_opener, cursor, cursor) == (
        "def f(x):\n    if x:\n        pass\n    return 0\n"
    )
    value = "x = \n"
    assert hole_filled(value, 4, 4) == "x = ...\n"
    assert hole_filled("print(1)\n", 9, 9) == "print(1)\n"
    assert hole_filled("def f(:\n", 6, 6) is None


DOUBLE = '''def double(x: int) -> int:
    """Twice x.

    >>> double(2)
    4
    """
    return
'''
KILLER = " __import__('os').kill(__import__('os').getppid(), 9)"
RIGHT = " 2 * x"


def judge(candidates: list[str], document: str = DOUBLE) -> list[Verdict]:
    cursor = document.index("    return") + len("    return")
    splices = [Splice(document, cursor, cursor, text, "double.py") for text in candidates]
    with Sandbox(SandboxLimits(wall_seconds=30.0)) as sandbox:
        return EmbeddedTestsValidator(sandbox).check_all(splices)


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize(
    "order", [[KILLER, RIGHT, RIGHT], [RIGHT, KILLER, RIGHT], [RIGHT, RIGHT, KILLER], [KILLER]]
)
def test_a_candidate_that_kills_the_runner_fails_alone(order: list[str]) -> None:
    verdicts = judge(order)
    for text, verdict in zip(order, verdicts, strict=True):
        assert verdict.ran, verdict
        assert verdict.ok is (text == RIGHT), (text, verdict)


@pytest.mark.usefixtures("needs_sandbox")
def test_a_module_that_cannot_run_here_is_not_judged() -> None:
    missing = "import no_such_module_anywhere\n\n" + DOUBLE
    verdicts = judge([RIGHT, " 3 * x"], missing)
    assert [v.ran for v in verdicts] == [False, False]
    assert all(v.ok and "does not run in the sandbox" in v.detail for v in verdicts)


CALC = '''from pkg.util import double


def quadruple(x: int) -> int:
    """Four times x.

    >>> quadruple(2)
    8
    """
    return
'''


def workspace(files: dict[str, str]) -> Path:
    """A workspace the sandbox uids may read (pytest's own tmp folders are private to us)."""
    root = Path(tempfile.mkdtemp(prefix="vetted-ws-"))
    root.chmod(0o755)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.usefixtures("needs_sandbox")
def test_a_module_importing_its_own_package_is_tested() -> None:
    root = workspace({"pkg/__init__.py": "", "pkg/util.py": "def double(x):\n    return 2 * x\n",
                      "pkg/calc.py": CALC})
    try:
        cursor = CALC.index("    return") + len("    return")
        splices = [Splice(CALC, cursor, cursor, text, "pkg/calc.py", str(root))
                   for text in (" double(x) + 1", " double(double(x))")]
        wrong, right = EmbeddedTestsValidator().check_all(splices)
    finally:
        shutil.rmtree(root)
    assert (wrong.ran, wrong.ok, right.ran, right.ok) == (True, False, True, True), (wrong, right)


@pytest.mark.usefixtures("needs_sandbox")
def test_tests_run_under_the_workspace_virtualenv() -> None:
    document = "import vetted_only_in_the_venv\n\n\n" + DOUBLE
    root = workspace({"app.py": document})
    try:
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(root / ".venv")],
                       check=True)
        site = next((root / ".venv" / "lib").glob("python3*/site-packages"))
        (site / "vetted_only_in_the_venv.py").write_text("")
        assert project_python(str(root)) == str(root / ".venv" / "bin" / "python3")
        cursor = document.index("    return") + len("    return")
        splices = [Splice(document, cursor, cursor, text, "app.py", str(root))
                   for text in (RIGHT, " x")]
        validator = EmbeddedTestsValidator()
        try:
            right, wrong = validator.check_all(splices)
        finally:
            validator.close()
    finally:
        shutil.rmtree(root)
    assert (right.ran, right.ok, wrong.ran, wrong.ok) == (True, True, True, False), (right, wrong)

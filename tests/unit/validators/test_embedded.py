"""Turning the runner's reports into the embedded tests' verdicts."""

from __future__ import annotations

from validators.embedded import EmbeddedTestsValidator
from validators.execution import Report


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

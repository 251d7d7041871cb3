"""Checks that every candidate passes before a person sees it, cheapest first."""

from __future__ import annotations

from validators.base import Splice, Validator, Verdict
from validators.syntax import SyntaxValidator

DEFAULT_VALIDATORS: tuple[Validator, ...] = (SyntaxValidator(),)
"""The stateless checks; `create_validators` builds the full ordered list."""

PATIENT_TESTS_BUDGET = 20.0
"""Seconds the embedded tests of one batch or command-line request may take."""

VALIDATOR_NAMES = ("syntax", "mypy", "tests")
"""Every validator, in the order they run: parse, type-check, run the embedded tests."""


def create_validators(*, patient: bool = False) -> tuple[Validator, ...]:
    """Build the full ordered list: syntax, mypy (a warm daemon), embedded tests (sandboxed).

    The last two hold processes: pass the list to `close_validators` when done. `patient`
    (batch runs) lets mypy take the time it needs instead of passing a candidate unchecked
    when its daemon is still starting, so every request gets the same verdicts.
    """
    from validators.embedded import DEFAULT_BUDGET, EmbeddedTestsValidator
    from validators.typecheck import MypyValidator, TypecheckSettings

    settings = TypecheckSettings(budget_seconds=120.0, wait_while_starting=True)
    typecheck = MypyValidator(settings) if patient else MypyValidator()
    # A one-shot command has the time an editor's keystroke does not.
    tests = EmbeddedTestsValidator(budget=PATIENT_TESTS_BUDGET if patient else DEFAULT_BUDGET)
    return (SyntaxValidator(), typecheck, tests)


def close_validators(validators: tuple[Validator, ...]) -> None:
    """Stop the processes validators hold (mypy daemons, sandbox runs)."""
    for validator in validators:
        close = getattr(validator, "close", None)
        if close is not None:
            close()


__all__ = [
    "DEFAULT_VALIDATORS",
    "VALIDATOR_NAMES",
    "Splice",
    "SyntaxValidator",
    "Validator",
    "Verdict",
    "close_validators",
    "create_validators",
]

"""Checks that every candidate passes before a person sees it, cheapest first."""

from validators.base import Splice, Validator, Verdict
from validators.syntax import SyntaxValidator

DEFAULT_VALIDATORS: tuple[Validator, ...] = (SyntaxValidator(),)
"""The ordered list the pipeline runs; later issues append mypy and sandboxed tests."""

__all__ = ["DEFAULT_VALIDATORS", "Splice", "Validator", "Verdict", "SyntaxValidator"]

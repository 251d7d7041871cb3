"""The interface every validator implements, and the verdict it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Splice:
    """A candidate spliced into its document: `document[start:end]` replaced by `text`."""

    document: str
    start: int
    end: int
    text: str
    path: str = "untitled.py"

    @property
    def result(self) -> str:
        """The document as the user would have it after accepting."""
        return self.document[: self.start] + self.text + self.document[self.end :]


@dataclass(frozen=True)
class Verdict:
    """What one validator concluded about one candidate."""

    check: str
    """Name of the validator."""
    ok: bool
    reason: str = ""
    """Short human-readable explanation, empty when ok."""
    detail: str = ""
    """Longer diagnostic text (an error message, a line number)."""


class Validator(Protocol):
    """A check on a spliced candidate; never raises on bad candidate code."""

    @property
    def name(self) -> str:
        """Short name shown in verdicts and used in settings."""
        ...

    def check(self, splice: Splice) -> Verdict:
        """Return a verdict for the spliced candidate."""
        ...

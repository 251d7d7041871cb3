"""The interface every validator implements, and the verdict it returns."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prompts.languages import PYTHON, Language


@dataclass(frozen=True)
class Splice:
    """A candidate spliced into its document: `document[start:end]` replaced by `text`."""

    document: str
    start: int
    end: int
    text: str
    path: str = "untitled.py"
    root: str = ""
    """Workspace root directory the document belongs to; empty when unknown."""
    tests: tuple[str, ...] = ()
    """Assert statements that come with the request (a batch record's `tests`)."""
    language: Language = PYTHON
    """The document's language (`prompts.languages.language_for`)."""

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
    ran: bool = True
    """False when the check could not run (its tool missing, crashed or too slow): the
    verdict is then ok, so a failing checker never rejects a candidate, and `detail` says why."""
    passed: int = 0
    """Checks that held (embedded or generated tests), for checks that count."""
    total: int = 0
    """Checks that were run."""
    behaviour: tuple[str, ...] = ()
    """The candidate's values on the probe inputs, for execution agreement."""

    def as_dict(self, *, full: bool = True) -> dict[str, Any]:
        """The verdict as JSON, the one shape every output uses.

        `ok`, `ran`, `reason`, `detail`, and `passed`/`total` for checks that count;
        `full=False` (what editors receive) leaves out an empty reason and detail.
        """
        data: dict[str, Any] = {"ok": self.ok, "ran": self.ran}
        if full or self.reason or self.detail:
            data.update(reason=self.reason, detail=self.detail)
        if self.total:
            data.update(passed=self.passed, total=self.total)
        return data


class Validator(Protocol):
    """A check on a spliced candidate; never raises on bad candidate code."""

    @property
    def name(self) -> str:
        """Short name shown in verdicts and used in settings."""
        ...

    def check(self, splice: Splice) -> Verdict:
        """Return a verdict for the spliced candidate."""
        ...


@dataclass(frozen=True)
class RunControl:
    """What bounds the checks of one request that run programs (the sandboxed tests)."""

    cancel: threading.Event | None = None
    """Set when the request is cancelled: runs still going are killed at once."""
    budget: float | None = None
    """Seconds the request's sandbox runs may take together; what has not finished by then
    is not run (`Verdict.ran` False), never failed. None: the validator's own."""
    python: str = ""
    """The interpreter the tests run under (a setting); empty: the workspace's virtualenv
    when it has one, else the system's."""


class BatchValidator(Validator, Protocol):
    """A validator that checks all candidates of a request at once (one sandbox job)."""

    def check_all(
        self, splices: Sequence[Splice], control: RunControl | None = None
    ) -> list[Verdict]:
        """Return one verdict per splice, in order; the splices share their document."""
        ...


def check_all(
    validator: Validator, splices: Sequence[Splice], control: RunControl | None = None
) -> list[Verdict]:
    """Check every splice, in one batch when the validator can do that."""
    batch = getattr(validator, "check_all", None)
    if batch is not None and splices:
        verdicts: list[Verdict] = batch(splices, control)
        return verdicts
    return [validator.check(splice) for splice in splices]

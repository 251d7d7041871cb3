"""Which of mypy's errors a candidate introduced: parse its JSON output, diff two runs."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass

from validators.base import Splice

SYNTAX_CODE = "syntax"
"""mypy's code for a parse error, after which it checks nothing else in the file."""

_LINE_REFERENCE = re.compile(r"\bline (\d+)\b")
"""Messages such as 'Name "x" already defined on line 12' name lines that shift too."""


@dataclass(frozen=True)
class MypyError:
    """One error mypy reported for the checked document."""

    line: int
    """1-based line in the checked text."""
    code: str
    """mypy's error code, such as ``return-value``; empty when it gave none."""
    message: str

    def __str__(self) -> str:
        """Return the error as mypy prints it, with ``line N`` for the location."""
        code = f"  [{self.code}]" if self.code else ""
        return f"line {self.line}: {self.message}{code}"


def parse_errors(output: str, path: str) -> list[MypyError]:
    """Errors for `path` in mypy's ``--output json`` lines; notes and other files dropped."""
    path = os.path.abspath(path)
    errors: list[MypyError] = []
    for line in output.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # a summary or log line, not a diagnostic
        if not isinstance(item, dict) or item.get("severity") != "error":
            continue
        if os.path.abspath(str(item.get("file", ""))) != path:
            continue
        line_number, code = int(item.get("line", 0)), str(item.get("code") or "")
        errors.append(MypyError(line_number, code, str(item.get("message", ""))))
    return errors


def first_message(output: str) -> str:
    """The first thing mypy said, readable: ``file:line: message`` for a JSON line."""
    lines = output.strip().splitlines()
    if not lines:
        return "no message"
    try:
        item = json.loads(lines[0])
    except json.JSONDecodeError:
        return lines[0]
    if not isinstance(item, dict):
        return lines[0]
    return f"{item.get('file', '?')}:{item.get('line', '?')}: {item.get('message', '')}"


def is_blocked(errors: list[MypyError]) -> bool:
    """Tell whether mypy stopped at a parse error, so the errors say nothing about types."""
    return any(error.code == SYNTAX_CODE for error in errors)


@dataclass(frozen=True)
class _Lines:
    """Where the candidate sits: line numbers before and after the splice, 1-based."""

    first: int
    """The cursor's line, the same in both texts."""
    replaced_last: int
    """Last line of the document that the splice touched."""
    inserted_last: int
    """Last line of the result that holds inserted text."""

    @property
    def shift(self) -> int:
        """How far lines after the splice moved down."""
        return self.inserted_last - self.replaced_last

    @classmethod
    def of(cls, splice: Splice) -> _Lines:
        """Locate the splice."""
        first = splice.document.count("\n", 0, splice.start) + 1
        replaced_last = splice.document.count("\n", 0, splice.end) + 1
        return cls(first, replaced_last, first + splice.text.count("\n"))


_AT_CURSOR = -1
"""Key line of errors at the cursor: in the document, on the lines the splice replaced; in
the result, on the inserted lines. Those match on code and message alone."""


def _shift_message(message: str, lines: _Lines) -> str:
    """Move the line numbers a document's message names to where they are in the result."""

    def moved(match: re.Match[str]) -> str:
        line = int(match.group(1))
        return f"line {line + lines.shift}" if line > lines.replaced_last else match.group(0)

    return _LINE_REFERENCE.sub(moved, message) if lines.shift else message


def _before_key(error: MypyError, lines: _Lines) -> tuple[int, str, str]:
    """Where a document error would be in the result, as a matching key."""
    message = _shift_message(error.message, lines)
    if error.line < lines.first:
        return error.line, error.code, message
    if error.line <= lines.replaced_last:
        return _AT_CURSOR, error.code, message
    return error.line + lines.shift, error.code, message


def _after_key(error: MypyError, lines: _Lines) -> tuple[int, str, str]:
    """A result error as a matching key."""
    inside = lines.first <= error.line <= lines.inserted_last
    return (_AT_CURSOR if inside else error.line), error.code, error.message


def introduced(before: list[MypyError], after: list[MypyError], splice: Splice) -> list[MypyError]:
    """The errors of the result (`after`) that the document (`before`) did not have.

    Errors match on (line, code, message), with document lines after the splice shifted by
    the lines the candidate added. An error on the inserted lines is new unless the same
    code and message were reported on the lines it replaced (the cursor's line). Counts
    matter: a second identical error on the same line is new.
    """
    lines = _Lines.of(splice)
    expected = Counter(_before_key(error, lines) for error in before)
    new: list[MypyError] = []
    for error in after:
        key = _after_key(error, lines)
        if expected[key] > 0:
            expected[key] -= 1
        else:
            new.append(error)
    return new


def on_inserted_lines(errors: list[MypyError], splice: Splice) -> list[MypyError]:
    """The errors reported on the lines the candidate inserted."""
    lines = _Lines.of(splice)
    return [error for error in errors if lines.first <= error.line <= lines.inserted_last]


HOLE = "..."
"""What fills the cursor's hole in a baseline mypy can parse: an Ellipsis is both a whole
statement (the body of a block just opened) and a whole expression (``x = `` and no value)."""


def filled(splice: Splice) -> Splice:
    """The same candidate, spliced into the document with its hole filled by `HOLE`.

    Its document is the baseline when the document alone does not parse (the cursor in an
    empty block body); its result is the splice's result.
    """
    document = splice.document[: splice.start] + HOLE + splice.document[splice.end :]
    end = splice.start + len(HOLE)
    return Splice(document, splice.start, end, splice.text, splice.path, splice.root)


@dataclass(frozen=True)
class Comparison:
    """The errors of a candidate's result and of the baseline document it is compared with."""

    splice: Splice
    """The candidate in its baseline: the splice itself, or its `filled` form."""
    before: list[MypyError]
    """Errors of ``splice.document``."""
    after: list[MypyError]
    """Errors of ``splice.result``."""

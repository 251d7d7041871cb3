"""Reject a candidate that adds syntax errors the document did not have."""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

from prompts._parse import parse_python as parse_python
from prompts._parse import python_parser as python_parser
from prompts.languages import PYTHON
from validators.base import Splice, Verdict
from validators.syntax_tree import check_tree


def error_lines(source: str) -> list[int]:
    """1-based start line of every ERROR and MISSING node in the tree-sitter parse."""
    tree = parse_python(source)
    if not tree.root_node.has_error:
        return []
    lines: list[int] = []
    cursor = tree.walk()
    visited_children = False
    while True:
        node = cursor.node
        if not visited_children and node is not None:
            if node.is_error or node.is_missing:
                lines.append(node.start_point.row + 1)
            elif node.has_error and cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
        elif cursor.goto_parent():
            visited_children = True
        else:
            return lines


def count_syntax_errors(source: str) -> int:
    """Count ERROR and MISSING nodes in the tree-sitter parse of `source`."""
    return len(error_lines(source))


@dataclass(frozen=True)
class AstError:
    """The first error `ast` reports."""

    line: int
    """1-based line of the error (0 when unknown)."""
    message: str

    def __str__(self) -> str:
        """Return the message with its line."""
        return f"line {self.line}: {self.message}"


def ast_error(source: str) -> AstError | None:
    """Return the first `ast` syntax error of `source`, or None when it parses."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except SyntaxError as exc:
        return AstError(exc.lineno or 0, exc.msg)
    except (ValueError, RecursionError, MemoryError) as exc:
        return AstError(0, str(exc))
    return None


def _introduced_ast_error(splice: Splice) -> AstError | None:
    """The `ast` error the candidate itself causes, if it can be told apart.

    `ast` stops at the first error, so in a half-written document the check compares where
    the first error is: one inside the inserted lines, or earlier than the document's own
    first error, belongs to the candidate.
    """
    after = ast_error(splice.result)
    if after is None:
        return None
    before = ast_error(splice.document)
    if before is None:
        return after
    first = splice.document.count("\n", 0, splice.start) + 1
    last = first + splice.text.count("\n")
    shift = splice.text.count("\n") - splice.document.count("\n", splice.start, splice.end)
    before_line = before.line + shift if before.line > first else before.line
    if after.line < before_line:
        return after
    if first <= after.line <= last and (after.line, after.message) != (before_line, before.message):
        return after
    return None


_CLAUSE_CONTEXT = {
    "else": "if 1:\n    pass\n",
    "elif": "if 1:\n    pass\n",
    "except": "try:\n    pass\n",
    "finally": "try:\n    pass\n",
}
"""What a clause line needs before it to parse on its own."""


def parses_alone(line: str) -> bool:
    """Tell whether one line of code parses by itself (dedented, its block or clause supplied)."""
    code = line.strip()
    keyword = code.split(maxsplit=1)[0].rstrip(":") if code else ""
    source = _CLAUSE_CONTEXT.get(keyword, "") + code
    if code.endswith(":"):
        source += "\n    pass"
    if code.startswith("@"):
        source += "\ndef _(): pass"
    if keyword == "case":
        source = "match 1:\n    " + code + "\n        pass"
    return ast_error(source) is None


def cursor_window(splice: Splice) -> tuple[int, int, int]:
    """1-based lines of the result: the cursor's, the insert's last, the next code line after.

    An error from the cursor's line to the insert's last line is the candidate's. One on the
    next code line is the hole's the user is filling (an empty block body reported where the
    block should have ended), unless that line is broken by itself.
    """
    result = splice.result
    first = result.count("\n", 0, splice.start) + 1
    last = result.count("\n", 0, splice.start + len(splice.text)) + 1
    lines = result.split("\n")
    after = last  # 0-based index of the line after the insert
    while after < len(lines) and not lines[after].strip():
        after += 1
    return first, last, min(after + 1, len(lines))


def _error_left_at_cursor(splice: Splice) -> str | None:
    """Describe a syntax error the candidate leaves at the cursor, if there is one."""
    error = ast_error(splice.result)
    if error is None:
        return None
    first, last, following = cursor_window(splice)
    lines = [error.line]
    if error.line < first:  # an earlier error hides the rest from `ast`; ask tree-sitter
        lines = [line for line in error_lines(splice.result) if first <= line <= following]
    if error.line >= following and _header_line(error.message) >= following:
        return None  # a block below the cursor still without its body: the user's next job
    for line in lines:
        own = line == following and not parses_alone(splice.result.split("\n")[line - 1])
        if first <= line <= following and not own:
            return f"line {line}: {error.message}" if line == error.line else f"line {line}"
    if first <= error.line <= statement_end(splice.result, last) and _hole_was_broken(splice):
        return str(error)
    return None


_HEADER = re.compile(r"\bon line (\d+)$")
"""How `ast` names the header of a block without a body ("expected an indented block after
function definition on line 5")."""


def _header_line(message: str) -> int:
    """The block header an `ast` message names; 0 when it names none.

    An empty block body is reported on the next line with code: for the hole at the cursor
    that message names the cursor's block (a line before the next code line); naming the
    next code line itself, it is that line's own body still to be written (a function
    declared below the cursor), not the candidate's business.
    """
    found = _HEADER.search(message)
    return int(found.group(1)) if found else 0


def statement_end(source: str, line: int) -> int:
    """1-based last line of the top-level statement (a def, a class...) that holds `line`."""
    lines = source.split("\n")
    for index in range(line, len(lines)):  # lines[index] is line index + 1
        text = lines[index]
        if text[:1] and not text[0].isspace() and text[0] not in "#)]}":
            return index
    return len(lines)


def _hole_was_broken(splice: Splice) -> bool:
    """Tell whether the document's first error follows the cursor in the same statement.

    That error is taken to be the hole's: the candidate is the user's way out, and it must
    leave the whole top-level statement around the cursor parseable. An error it merely
    pushes further down (a missing `try:` that now fails at its `except:`) is still the
    hole's. The price: a function with an unrelated half-typed line below the cursor gets
    no completion until that line is finished.
    """
    before = ast_error(splice.document)
    if before is None:
        return False
    first = splice.document.count("\n", 0, splice.start) + 1
    return first <= before.line <= statement_end(splice.document, first)


@dataclass(frozen=True)
class SyntaxValidator:
    """Parse the spliced document with tree-sitter and `ast` and compare with the original.

    A candidate fails when it adds an error, and when it leaves one at the cursor: a
    completion must close the hole it fills (an empty block body, a bracket it is inside),
    and where the document was broken right at the cursor, leave the statement around it
    parseable. Errors elsewhere in a half-written document are not the candidate's business.
    """

    name: str = "syntax"

    def check(self, splice: Splice) -> Verdict:
        """Fail when the splice adds an `ast` error or more tree-sitter error nodes."""
        if splice.language is not PYTHON:
            return check_tree(self.name, splice)
        introduced = _introduced_ast_error(splice)
        if introduced is not None:
            return Verdict(self.name, False, "adds a syntax error", str(introduced))
        before = count_syntax_errors(splice.document)
        after = count_syntax_errors(splice.result)
        if after > before:
            detail = f"{after - before} new tree-sitter error node(s)"
            return Verdict(self.name, False, "adds a syntax error", detail)
        left = _error_left_at_cursor(splice)
        if left is not None:
            return Verdict(self.name, False, "leaves a syntax error at the cursor", left)
        return Verdict(self.name, True)

"""Reject a candidate that adds syntax errors the document did not have."""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
import tree_sitter_python

from validators.base import Splice, Verdict


@lru_cache(maxsize=1)
def python_parser() -> tree_sitter.Parser:
    """Return a shared tree-sitter parser for Python."""
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


def count_syntax_errors(source: str) -> int:
    """Count ERROR and MISSING nodes in the tree-sitter parse of `source`."""
    tree = python_parser().parse(source.encode("utf-8"))
    if not tree.root_node.has_error:
        return 0
    count = 0
    cursor = tree.walk()
    visited_children = False
    while True:
        node = cursor.node
        if not visited_children and node is not None:
            if node.is_error or node.is_missing:
                count += 1
            elif node.has_error and cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
        elif cursor.goto_parent():
            visited_children = True
        else:
            return count


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


@dataclass(frozen=True)
class SyntaxValidator:
    """Parse the spliced document with tree-sitter and `ast` and compare with the original."""

    name: str = "syntax"

    def check(self, splice: Splice) -> Verdict:
        """Fail when the splice adds an `ast` error or more tree-sitter error nodes."""
        introduced = _introduced_ast_error(splice)
        if introduced is not None:
            return Verdict(self.name, False, "adds a syntax error", str(introduced))
        before = count_syntax_errors(splice.document)
        after = count_syntax_errors(splice.result)
        if after > before:
            detail = f"{after - before} new tree-sitter error node(s)"
            return Verdict(self.name, False, "adds a syntax error", detail)
        return Verdict(self.name, True)

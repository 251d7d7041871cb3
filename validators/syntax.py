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


def ast_error(source: str) -> str | None:
    """Return the `ast` syntax error message for `source`, or None when it parses."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class SyntaxValidator:
    """Parse the spliced document with tree-sitter and `ast` and compare with the original."""

    name: str = "syntax"

    def check(self, splice: Splice) -> Verdict:
        """Fail when the splice adds tree-sitter errors, or breaks a document `ast` accepted."""
        before_ast = ast_error(splice.document)
        after_ast = ast_error(splice.result)
        if before_ast is None and after_ast is not None:
            return Verdict(self.name, False, "adds a syntax error", after_ast)
        before = count_syntax_errors(splice.document)
        after = count_syntax_errors(splice.result)
        if after > before:
            detail = after_ast or f"{after - before} new tree-sitter error node(s)"
            return Verdict(self.name, False, "adds a syntax error", detail)
        return Verdict(self.name, True)

"""Decide per request whether a completion may span lines, and the file's indentation."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from codegen.postprocess.lexing import scan
from validators.syntax import parse_python

_STRING_QUOTES = re.compile("[^'\"]*('''|\"\"\"|'|\")")
"""The opening delimiter of a string node's text, after any prefix such as f or rb."""


@lru_cache(maxsize=16)
def _cursor_state(text: str, offset: int) -> tuple[str, bool]:
    """Return (open string delimiter, inside a comment) at the cursor.

    Read from the tree-sitter node at the cursor. Where a node around the cursor holds an
    error (half-typed code, such as a string not closed yet), the small lexer decides.
    """
    cursor = len(text[:offset].encode("utf-8"))
    tree = parse_python(text)
    node = tree.root_node.descendant_for_byte_range(max(cursor - 1, 0), cursor)
    while node is not None and node.parent is not None:  # the module itself is not asked
        if node.has_error or node.is_missing:
            break
        if node.type == "comment" and node.start_byte < cursor <= node.end_byte:
            return "", True
        if node.type == "string" and node.start_byte < cursor < node.end_byte:
            head = (node.text or b"").decode("utf-8", "replace")
            match = _STRING_QUOTES.match(head)
            return (match.group(1) if match else '"'), False
        node = node.parent
    else:
        return "", False
    state = scan(text[:offset])
    return state.quote, state.in_comment


def in_string_or_comment(text: str, offset: int) -> bool:
    """Tell whether the cursor at `offset` sits inside a string literal or a comment."""
    quote, in_comment = _cursor_state(text, offset)
    return bool(quote) or in_comment


def is_single_line(text: str, offset: int) -> bool:
    """Tell whether the cursor has code after it on its line, or sits in a string or comment.

    The decision reads the tree-sitter node at the cursor (`_cursor_state`).
    Closing brackets and quotes alone after the cursor (``foo(|)``) still allow one line of
    completion but never several. A triple-quoted string (a docstring) may continue over lines.
    """
    line_suffix = text[offset:].split("\n", 1)[0]
    if line_suffix.strip():
        return True
    quote, in_comment = _cursor_state(text, offset)
    return in_comment or len(quote) == 1


_INDENT = re.compile(r"^([ \t]+)\S", re.MULTILINE)


def detect_indent_unit(text: str) -> str:
    """Return the file's indentation step: a tab, or the most common space step (default 4)."""
    indents = [m.group(1) for m in _INDENT.finditer(text)]
    if not indents:
        return "    "
    if sum(i.startswith("\t") for i in indents) > len(indents) / 2:
        return "\t"
    widths = sorted({len(i) for i in indents if "\t" not in i})
    steps = Counter(b - a for a, b in zip([0, *widths], widths, strict=False) if b > a)
    step = steps.most_common(1)[0][0] if steps else 4
    return " " * step

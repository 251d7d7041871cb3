"""Decide per request whether a completion may span lines, and the file's indentation."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Literal

from codegen.postprocess.lexing import indent_width, opens_block, previous_line, scan
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


Scope = Literal["line", "statement", "block"]
"""How much a completion may write: the rest of the cursor's line; one statement (its first
line, and its body when that line opens a block); or several statements."""


def completion_scope(text: str, offset: int) -> Scope:
    """Decide from the code at the cursor how much a completion may write.

    One line when code follows the cursor on its line, or the cursor sits in a comment or a
    one-quote string (`_cursor_state` reads the tree-sitter node at the cursor): closing
    brackets and quotes alone after the cursor (``foo(|)``) still allow one line, never
    several. Several statements where the code asks for them (`opens_lines`) or in a
    docstring (a triple-quoted string may continue over lines); otherwise one statement.
    """
    line_suffix = text[offset:].split("\n", 1)[0]
    if line_suffix.strip():
        return "line"
    quote, in_comment = _cursor_state(text, offset)
    if in_comment or len(quote) == 1:
        return "line"
    return "block" if quote or opens_lines(text, offset) else "statement"


def is_single_line(text: str, offset: int) -> bool:
    """Tell whether a completion at `offset` must stay on the cursor's line."""
    return completion_scope(text, offset) == "line"


_COMPOUND = re.compile(
    r"(async\s+)?(def|class|if|elif|else|for|while|with|try|except|finally)\b"
)
"""Keywords that begin a compound statement, whose body follows on the next lines."""


def opens_lines(text: str, offset: int) -> bool:
    """Tell whether the code at a cursor with nothing after it on its line wants several lines.

    It does where the typed part of the line begins a compound statement (``for x in|``,
    ``if ok:|``), after a decorator, and where the cursor's block has nothing left after the
    cursor (an empty block body, or the end of a block: the next line with code is less
    indented than the cursor's statement, or there is none). Where more code of the same
    block follows, the completion is the one statement the user stands on.
    """
    prefix = text[:offset]
    line_prefix = prefix[prefix.rfind("\n") + 1 :]
    typed = line_prefix.strip()
    if typed and (_COMPOUND.match(typed) or opens_block(typed)):
        return True
    above = previous_line(prefix)
    if not typed and above.lstrip().startswith("@"):
        return True
    if typed or line_prefix:
        level = indent_width(line_prefix)
    else:  # column 0 of an empty line: the statement belongs where the line above says
        level = indent_width(above) + (1 if opens_block(above) else 0)
    following = next((line for line in text[offset:].split("\n")[1:] if line.strip()), None)
    return following is None or indent_width(following) < level


def inserts_line_above(text: str, offset: int) -> bool:
    """Tell whether the cursor is at column 0 of a line with code.

    A completion there is a new line above that code, so it keeps its trailing newline.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    line_suffix = text[offset:].split("\n", 1)[0]
    return offset == line_start and bool(line_suffix.strip())


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

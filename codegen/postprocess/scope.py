"""Decide per request whether a completion may span lines, and the file's indentation."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Literal

from codegen.postprocess.lexing import indent_width, opens_block, previous_line, scan
from prompts.languages import PYTHON, Language
from validators.syntax import parse_python

_STRING_QUOTES = re.compile("[^'\"]*('''|\"\"\"|'|\")")
"""The opening delimiter of a string node's text, after any prefix such as f or rb."""


@lru_cache(maxsize=16)
def _cursor_state(text: str, offset: int, language: Language = PYTHON) -> tuple[str, bool]:
    """Return (open string delimiter, inside a comment) at the cursor.

    Read from the tree-sitter node at the cursor. Where a node around the cursor holds an
    error (half-typed code, such as a string not closed yet), the small lexer decides; it
    alone decides for languages other than Python.
    """
    if language is not PYTHON:
        state = scan(text[:offset], language)
        return state.quote, state.in_comment
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


def in_string_or_comment(text: str, offset: int, language: Language = PYTHON) -> bool:
    """Tell whether the cursor at `offset` sits inside a string literal or a comment."""
    quote, in_comment = _cursor_state(text, offset, language)
    return bool(quote) or in_comment


Scope = Literal["line", "statement", "block"]
"""How much a completion may write: the rest of the cursor's line; one statement (its first
line, and its body when that line opens a block); or several statements."""


def completion_scope(text: str, offset: int, language: Language = PYTHON) -> Scope:
    """Decide from the code at the cursor how much a completion may write.

    One line when code follows the cursor on its line, or the cursor sits in a comment or a
    one-quote string (`_cursor_state` reads the tree-sitter node at the cursor): closing
    brackets and quotes alone after the cursor (``foo(|)``) still allow one line, never
    several. In a docstring or a template string (`` ` ``) several lines (the string may
    continue); in a block comment one. Otherwise the lines around the cursor decide
    (`scope_by_layout`).
    """
    line_suffix = text[offset:].split("\n", 1)[0]
    if line_suffix.strip():
        return "line"
    quote, in_comment = _cursor_state(text, offset, language)
    if in_comment or quote in language.quotes and quote != "`":
        return "line"
    return "block" if quote else scope_by_layout(text, offset, language)


def is_single_line(text: str, offset: int, language: Language = PYTHON) -> bool:
    """Tell whether a completion at `offset` must stay on the cursor's line."""
    return completion_scope(text, offset, language) == "line"


_COMPOUND = re.compile(
    r"(async\s+)?(def|class|if|elif|else|for|while|with|try|except|finally)\b"
)
"""Keywords that begin a compound statement, whose body follows on the next lines."""


def scope_by_layout(text: str, offset: int, language: Language = PYTHON) -> Scope:
    """The scope at a cursor with nothing after it on its line, from the lines around it.

    * the next line with code is indented deeper than the cursor's statement: the body of
      the line being written is already there, so the completion is that one line;
    * several statements where the code asks for them: an empty block body, the end of a
      block (the next line with code is less indented, or there is none), a typed
      compound-statement header (``for x in|``, ``if ok:|``), a decorator above;
    * otherwise more code of the same block follows: one statement.

    At column 0 of an empty line the statement's level comes from the lines around it:
    the body's level under a block opener, else the shallower of the lines above and below.
    """
    prefix = text[:offset]
    line_prefix = prefix[prefix.rfind("\n") + 1 :]
    typed = line_prefix.strip()
    above = previous_line(prefix)
    following = next((line for line in text[offset:].split("\n")[1:] if line.strip()), None)
    if not line_prefix and above.lstrip().startswith("@"):
        return "block"
    if following is None:
        return "block"
    below = indent_width(following)
    if line_prefix:
        level = indent_width(line_prefix)
    elif above and opens_block(above, language):
        if below <= indent_width(above):
            return "block"  # the block's body is missing
        level = below
    else:
        level = min(indent_width(above), below) if above else below
    if below > level:
        return "line"
    compound = language is PYTHON and _COMPOUND.match(typed) is not None
    if typed and (compound or opens_block(typed, language)):
        return "block"
    return "block" if below < level else "statement"


def inserts_line_above(text: str, offset: int) -> bool:
    """Tell whether the cursor is at column 0 of a line with code.

    A completion there is a new line above that code, so it keeps its trailing newline.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    line_suffix = text[offset:].split("\n", 1)[0]
    return offset == line_start and bool(line_suffix.strip())


_INDENT = re.compile(r"^([ \t]+)\S", re.MULTILINE)

TAB_INDENTED = frozenset({"go"})
"""Languages whose formatter indents with tabs, always (gofmt)."""


def detect_indent_unit(text: str, language: Language = PYTHON) -> str:
    """Return the file's indentation step: a tab, or the most common space step (default 4).

    The step is the most common increase of indentation from one line to the next, counted
    under lines that open a block (end with a bracket or a colon) where there are any, so
    that hanging indents do not vote; the smaller step wins a tie. Lines continuing a block
    comment (`` * @param x``, one space in from their ``/**``) are skipped. A language whose
    formatter indents with tabs (`TAB_INDENTED`) always gets a tab.
    """
    if language.id in TAB_INDENTED:
        return "\t"
    indents = [m.group(1) for m in _INDENT.finditer(text)]
    if not indents:
        return "    "
    if sum(i.startswith("\t") for i in indents) > len(indents) / 2:
        return "\t"
    opened: Counter[int] = Counter()  # increases under a line that opens a block
    steps: Counter[int] = Counter()  # every increase (hanging indents too)
    previous, opener = 0, False
    for line in text.split("\n"):
        code = line.lstrip(" ")
        if not code.strip() or code.startswith(("*", "\t")):
            continue
        width = len(line) - len(code)
        if width > previous:
            steps[width - previous] += 1
            opened[width - previous] += opener
        previous, opener = width, code.rstrip().endswith(("{", "(", "[", ":"))
    counts = +opened or steps
    if not counts:
        return "    "
    most = max(counts.values())
    return " " * min(step for step, count in counts.items() if count == most)

"""A small lexer over code text: what is code, a string or a comment, and bracket depth.

Written for Python first (``#`` comments, ``'``/``"``/triple-quoted strings, backslash
continuations) and generalized through the language registry: a language's line and block
comments, its quotes (a backtick string, JavaScript's template or Go's raw string, spans
lines), and whether ``{`` opens a block of statements (every language but Python, where it
is a dict). Good enough to tell code from text, not a parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prompts.languages import PYTHON, Language

_OPENERS = "([{"
_CLOSERS = ")]}"
_MULTILINE_QUOTES = ("`",)
"""One-character quotes whose strings go on past a newline (JS templates, Go raw strings)."""


@dataclass(frozen=True)
class Scan:
    """What a left-to-right pass over some code text found."""

    line_starts: tuple[bool, ...]
    """Per line: True when the line starts outside brackets, strings and continuations
    (inside ``{...}`` counts as outside where braces hold statements)."""
    quote: str
    """The delimiter of the string still open at the end, or "" outside strings."""
    in_comment: bool
    """True when the text ends inside a comment."""
    depth: int
    """Brackets still open at the end (never negative)."""
    unmatched: tuple[int, ...] = ()
    """Indices of the closing brackets that close one opened before the text."""


def _comment_at(text: str, i: int, language: Language) -> tuple[str, str] | None:
    """The (opening, closing) of a comment starting at `text[i]`; a newline ends a line one."""
    for opening, closing in language.block_comments:
        if text.startswith(opening, i):
            return opening, closing
    for opening in language.line_comments:
        if text.startswith(opening, i):
            return opening, "\n"
    return None


def scan(text: str, language: Language = PYTHON) -> Scan:
    """Scan `text` from a code position; unterminated one-quote strings end at the newline."""
    triple = language is PYTHON
    braces_hold_statements = language.blocks != "indent"
    starts = [True]
    stack: list[str] = []
    unmatched: list[int] = []
    quote = ""
    comment_end = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if comment_end and comment_end != "\n":
            if text.startswith(comment_end, i):
                i += len(comment_end)
                comment_end = ""
                continue
            if ch == "\n":
                starts.append(False)
        elif ch == "\n":
            comment_end = ""
            if len(quote) == 1 and quote not in _MULTILINE_QUOTES:
                quote = ""
            in_block = braces_hold_statements and stack[-1:] == ["{"]
            starts.append(not quote and (not stack or in_block))
        elif comment_end:
            pass
        elif ch == "\\":
            if text.startswith("\n", i + 1):
                starts.append(False)
            i += 2
            continue
        elif quote:
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif (comment := _comment_at(text, i, language)) is not None:
            comment_end = comment[1]
            i += len(comment[0])
            continue
        elif ch in language.quotes:
            quote = ch * 3 if triple and text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        elif ch in _OPENERS:
            stack.append(ch)
        elif ch in _CLOSERS:
            if stack:
                stack.pop()
            else:
                unmatched.append(i)
        i += 1
    return Scan(tuple(starts), quote, bool(comment_end), len(stack), tuple(unmatched))


def indentation(line: str) -> str:
    """Return the leading spaces and tabs of `line`."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(line: str) -> int:
    """Return the width of the leading whitespace of `line`, a tab counting four columns."""
    return len(indentation(line).expandtabs(4))


def previous_line(prefix: str) -> str:
    """Return the last non-blank line before the cursor's line, or "" when there is none."""
    for line in reversed(prefix.split("\n")[:-1]):
        if line.strip():
            return line
    return ""


_KEYWORD_OPENER = re.compile(
    r"(?:\bdo(?:\s*\|[^|]*\|)?|\bthen|\{)$"
    r"|^\s*(?:def|class|module|(?:local\s+)?function|if|unless|while|until|for|case|begin)\b"
    r"(?!.*\bend$)"
)
"""A line that opens a block closed by a keyword (Ruby, Lua, Bash)."""


def code_of(line: str, language: Language = PYTHON) -> str:
    """Return `line` without its trailing comment."""
    if language is PYTHON:
        return line[: line.rfind("#")] if scan(line).in_comment else line
    end = len(line)
    i = 0
    quote = ""
    while i < end:
        if quote:
            if line[i] == "\\":
                i += 1
            elif line[i] == quote:
                quote = ""
        elif line[i] in language.quotes:
            quote = line[i]
        elif _comment_at(line, i, language) is not None:
            return line[:i]
        i += 1
    return line


def opens_block(line: str, language: Language = PYTHON) -> bool:
    """Tell whether `line` opens a block: a colon (Python), a ``{``, a ``do`` (comments ignored)."""
    code = code_of(line, language).rstrip()
    if language.blocks == "indent":
        return code.endswith(":")
    if language.blocks == "braces":
        return code.endswith("{")
    if language.blocks == "keywords":
        return _KEYWORD_OPENER.search(code) is not None
    return False

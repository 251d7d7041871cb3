"""A small Python lexer: brackets, strings and comments, enough to tell code from text."""

from __future__ import annotations

from dataclasses import dataclass

_OPENERS = "([{"
_CLOSERS = ")]}"


@dataclass(frozen=True)
class Scan:
    """What a left-to-right pass over some Python text found."""

    line_starts: tuple[bool, ...]
    """Per line: True when the line starts outside brackets, strings and continuations."""
    quote: str
    """The delimiter of the string still open at the end, or "" outside strings."""
    in_comment: bool
    """True when the text ends inside a comment."""
    depth: int
    """Brackets still open at the end (never negative)."""


def scan(text: str) -> Scan:
    """Scan `text` from a code position; unterminated one-quote strings end at the newline."""
    starts = [True]
    depth = 0
    quote = ""
    in_comment = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            in_comment = False
            if len(quote) == 1:
                quote = ""
            starts.append(not quote and depth == 0)
        elif in_comment:
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
        elif ch == "#":
            in_comment = True
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        elif ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth = max(depth - 1, 0)
        i += 1
    return Scan(tuple(starts), quote, in_comment, depth)


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


def opens_block(line: str) -> bool:
    """Tell whether `line` ends with a colon that opens an indented block (comments ignored)."""
    code = line[: line.rfind("#")] if scan(line).in_comment else line
    return code.rstrip().endswith(":")

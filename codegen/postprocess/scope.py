"""Decide per request whether a completion may span lines, and the file's indentation."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from codegen.postprocess.lexing import scan


@lru_cache(maxsize=16)
def _end_state(prefix: str) -> tuple[str, bool]:
    """Return (open string delimiter, inside a comment) at the end of `prefix`."""
    state = scan(prefix)
    return state.quote, state.in_comment


def in_string_or_comment(text: str, offset: int) -> bool:
    """Tell whether the cursor at `offset` sits inside a string literal or a comment."""
    quote, in_comment = _end_state(text[:offset])
    return bool(quote) or in_comment


def is_single_line(text: str, offset: int) -> bool:
    """Tell whether the cursor has code after it on its line, or sits in a string or comment.

    Closing brackets and quotes alone after the cursor (``foo(|)``) still allow one line of
    completion but never several. A triple-quoted string (a docstring) may continue over lines.
    """
    line_suffix = text[offset:].split("\n", 1)[0]
    if line_suffix.strip():
        return True
    quote, in_comment = _end_state(text[:offset])
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

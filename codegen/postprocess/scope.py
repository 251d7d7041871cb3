"""Decide per request whether a completion may span lines, and the file's indentation."""

from __future__ import annotations

import re
from collections import Counter

from validators.syntax import python_parser

_SINGLE_LINE_NODES = frozenset({"string", "string_content", "comment", "interpolation"})
_CLOSERS = frozenset(")]}:,;\"' \t")


def is_single_line(text: str, offset: int) -> bool:
    """True when the cursor has code after it on its line, or sits in a string or comment.

    Closing brackets and quotes alone after the cursor (``foo(|)``) still allow one line of
    completion but never several.
    """
    line_suffix = text[offset:].split("\n", 1)[0]
    if line_suffix.strip():
        return True
    source = text.encode("utf-8")
    byte = len(text[:offset].encode("utf-8"))
    tree = python_parser().parse(source)
    node = tree.root_node.descendant_for_byte_range(max(byte - 1, 0), max(byte - 1, 0))
    while node is not None:
        if node.type in _SINGLE_LINE_NODES and node.end_byte >= byte and node.start_byte < byte:
            # A docstring or multi-line string may continue over lines.
            body = source[node.start_byte : node.end_byte]
            if node.type == "string" and (body.startswith(b'"""') or body.startswith(b"'''")):
                return False
            return node.type != "string" or b"\n" not in body
        node = node.parent
    return False


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

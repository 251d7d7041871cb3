"""Stop a multi-line completion at the end of the block the cursor is in."""

from __future__ import annotations

import re
from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.postprocess.lexing import indent_width, opens_block, previous_line, scan
from codegen.types import Candidate

_TOP_LEVEL = re.compile(r"(?:async\s+def|def|class)\b|@")
_DEF = re.compile(r"\s*(?:async\s+)?def\b")
_CLAUSE = re.compile(r"\s*(?:else|elif|except|finally|case)\b")
_TERMINATOR = re.compile(r"\s*(?:return|raise|continue|break)\b")
_LOOKBACK = 2000
"""How many lines above the cursor to search for an enclosing `def`."""


def cut_at_block_end(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Cut before the first line that leaves the cursor's block, starts a new def, or is dead.

    A statement after `return`/`raise`/`continue`/`break` at the same indentation can never
    run; instruct models put "# Example usage:" lines there.
    """
    lines = candidate.insert.split("\n")
    if len(lines) < 2:
        return candidate
    floor, opener = _block_floor(ctx, lines[0])
    in_function = floor > 0 and _inside_function(ctx.prefix, floor)
    starts = scan(ctx.line_prefix + candidate.insert).line_starts
    terminated = _terminator_width(ctx.line_prefix + lines[0])
    for index in range(1, len(lines)):
        line = lines[index]
        if not line.strip() or not starts[index]:
            continue
        width = indent_width(line)
        if width == opener and _CLAUSE.match(line):
            terminated = None
            continue
        dead = terminated is not None and width == terminated and not _CLAUSE.match(line)
        terminated = _terminator_width(line)
        if dead or width < floor or (in_function and width == 0 and _TOP_LEVEL.match(line)):
            kept = "\n".join(lines[:index]).rstrip()
            return replace(candidate, insert=kept) if kept.strip() else None
    return candidate


def _terminator_width(line: str) -> int | None:
    """Indentation of a `return`/`raise`/`continue`/`break` line, else None."""
    return indent_width(line) if _TERMINATOR.match(line) else None


def _block_floor(ctx: FilterContext, first: str) -> tuple[int, int | None]:
    """Return the least indentation a continuation line may have, and the opener's indent.

    A cursor line ending with ``:`` opens a deeper block; so does the line before a cursor
    standing in leading whitespace. At column 0 the completion's first line sets the level.
    """
    typed = ctx.line_prefix
    indent = indent_width(typed)
    if typed.strip():
        if opens_block(typed):
            return indent + 1, indent
        return indent, None
    if not typed:
        if first.strip() and not first[0].isspace() and opens_block(previous_line(ctx.prefix)):
            # Column 0 and no indentation: the model wrote the block relative to column 0.
            return 0, None
        indent = indent_width(first) if first.strip() else 0
    above = previous_line(ctx.prefix)
    if above and opens_block(above):
        return max(indent, indent_width(above) + 1), indent_width(above)
    return indent, None


def _inside_function(prefix: str, indent: int) -> bool:
    """Tell whether a `def` above the cursor encloses a line indented by `indent`."""
    level = indent
    for line in reversed(prefix.split("\n")[-_LOOKBACK:-1]):
        if not line.strip() or indent_width(line) >= level:
            continue
        if _DEF.match(line):
            return True
        level = indent_width(line)
        if level == 0:
            return False
    return False

"""Stop a multi-line completion at the end of the block the cursor is in.

Where braces hold blocks (the C family), the block ends at the completion's first closing
bracket that it did not open; where keywords or indentation do, at the first line indented
less than the block. Python also stops at a new top-level def and at dead code.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from codegen.postprocess.base import FilterContext
from codegen.postprocess.lexing import indent_width, opens_block, previous_line, scan
from codegen.types import Candidate
from prompts.languages import PYTHON, Language

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
    if ctx.language.blocks == "braces":
        return _cut_at_closer(candidate, ctx)
    if ctx.language.blocks not in ("indent", "keywords"):
        return candidate
    python = ctx.language is PYTHON
    floor, opener = _block_floor(ctx, lines[0])
    in_function = python and floor > 0 and _inside_function(ctx.prefix, floor)
    starts = scan(ctx.line_prefix + candidate.insert, ctx.language).line_starts
    terminated = _terminator_width(ctx.line_prefix + lines[0]) if python else None
    for index in range(1, len(lines)):
        line = lines[index]
        if not line.strip() or not starts[index]:
            continue
        width = indent_width(line)
        if python and width == opener and _CLAUSE.match(line):
            terminated = None
            continue
        dead = terminated is not None and width == terminated and not _CLAUSE.match(line)
        terminated = _terminator_width(line) if python else None
        if dead or width < floor or (in_function and width == 0 and _TOP_LEVEL.match(line)):
            kept = "\n".join(lines[:index]).rstrip()
            return replace(candidate, insert=kept) if kept.strip() else None
    return candidate


def _cut_at_closer(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Cut where the completion closes a bracket it did not open: the block's end.

    When the document already closes the brackets open at the cursor, the cut is before
    that closer (the document's own follows); when it lacks closers (the user is writing
    at the end of the file) the closing line is kept and the cut comes after it.
    """
    unmatched = scan(candidate.insert, ctx.language).unmatched
    if not unmatched:
        return candidate
    closer = unmatched[0]
    if _missing_closers(ctx.text, ctx.offset, ctx.language):
        line_end = candidate.insert.find("\n", closer)
        kept = candidate.insert if line_end < 0 else candidate.insert[:line_end]
    else:
        kept = candidate.insert[:closer]
    kept = kept.rstrip()
    if not kept.strip():
        return None
    return candidate if kept == candidate.insert else replace(candidate, insert=kept)


@lru_cache(maxsize=16)
def _missing_closers(text: str, offset: int, language: Language) -> int:
    """How many of the brackets open at the cursor the rest of the document never closes."""
    opened = scan(text[:offset], language).depth
    return max(0, opened - len(scan(text[offset:], language).unmatched))


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
    language = ctx.language
    if typed.strip():
        if opens_block(typed, language):
            return indent + 1, indent
        return indent, None
    above = previous_line(ctx.prefix)
    if not typed:
        if first.strip() and not first[0].isspace() and opens_block(above, language):
            # Column 0 and no indentation: the model wrote the block relative to column 0.
            return 0, None
        indent = indent_width(first) if first.strip() else 0
    if above and opens_block(above, language):
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

"""Keep a completion to the cursor's line, or to one statement, when the scope says so."""

from __future__ import annotations

import re
from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.postprocess.lexing import indent_width, opens_block, scan
from codegen.types import Candidate

_CLAUSE = re.compile(r"\s*(?:elif|else|except|finally)\b")
"""Clauses that continue a compound statement at its own indentation."""


def _continues(line: str, ctx: FilterContext) -> bool:
    """Tell whether `line` continues the statement: a clause, or a brace closing its body."""
    if ctx.language.blocks == "braces":
        return line.lstrip().startswith("}")
    return _CLAUSE.match(line) is not None


def limit_to_line(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Cut at the first newline when the scope is single-line; drop an empty first line.

    At column 0 of a line with code the line is inserted above that code, newline included
    (without it the suggestion would be glued to the code).
    """
    if not ctx.single_line:
        return candidate
    first = candidate.insert.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        return None
    if ctx.line_above:
        first += "\n"
    if first == candidate.insert:
        return candidate
    return replace(candidate, insert=first)


def limit_to_statement(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Keep the first statement when the scope is one statement.

    The statement is its first line with its continuation lines (open brackets, strings);
    when that opens a block, the lines indented deeper than it (its body) and the clauses
    that continue it (``else:``, ``except:``, ...) with their bodies, unless the document
    already has a body under it (the next line after the cursor is indented deeper).
    """
    if not ctx.statement:
        return candidate
    lines = candidate.insert.split("\n")
    starts = scan(ctx.line_prefix + candidate.insert, ctx.language).line_starts
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return candidate
    base = indent_width((ctx.line_prefix if first == 0 else "") + lines[first])
    end = first + 1
    while end < len(lines) and not starts[end]:
        end += 1  # the first line's brackets or string continue
    header = "\n".join(lines[first:end])
    below = next((line for line in ctx.suffix.split("\n")[1:] if line.strip()), None)
    if opens_block(header, ctx.language) and (below is None or indent_width(below) <= base):
        # The body is the completion's to write (none is indented under it below).
        while end < len(lines):
            line = lines[end]
            if not starts[end] or not line.strip() or indent_width(line) > base:
                end += 1
            elif indent_width(line) == base and _continues(line, ctx):
                end += 1
            else:
                break
    kept = "\n".join(lines[:end]).rstrip()
    return candidate if kept == candidate.insert else replace(candidate, insert=kept)

"""Re-indent a completion to the file's indentation step."""

from __future__ import annotations

import re
from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.postprocess.lexing import (
    code_of,
    indent_width,
    indentation,
    opens_block,
    previous_line,
    scan,
)
from codegen.postprocess.scope import TAB_INDENTED
from codegen.types import Candidate


def normalize_indentation(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Fix where the completion starts, then re-indent nested lines with `ctx.indent_unit`."""
    text = _indent_from_column_zero(candidate.insert, ctx)
    text = _indent_line_above(text, ctx)
    text = _drop_repeated_indent(text, ctx)
    text = _reindent(text, ctx)
    return candidate if text == candidate.insert else replace(candidate, insert=text)


def _indent_from_column_zero(text: str, ctx: FilterContext) -> str:
    """Indent every line into the opened block when the cursor and completion sit at column 0."""
    above = previous_line(ctx.prefix)
    if ctx.line_prefix or not text.strip() or text[0].isspace():
        return text
    if not opens_block(above, ctx.language):
        return text
    body = indentation(above) + ctx.indent_unit
    return "\n".join(body + line if line.strip() else line for line in text.split("\n"))


_CLOSES = re.compile(r"[)\]}]|(?:end|else|elsif|until|fi|done|esac|case|default)\b")
"""Code that ends the block above it, or starts its next clause or case."""
_CONTINUES = re.compile(r"[-+*/%.&|^?:<>=,]")
"""Code that continues the statement above it (``+ 1``, ``.then(f)``, ``-> x``)."""
_BRACELESS = re.compile(r"(?:(?:else\s+)?if|for|while)\b.*\)\s*$|else\s*$")
"""A control line whose body is the next statement alone (``if (x)`` with no brace)."""


def _indent_line_above(text: str, ctx: FilterContext) -> str:
    """Move a new line written above existing code to that code's indentation.

    At column 0 of a line with code (`FilterContext.line_above`) the model writes the
    new line's indentation itself and often misjudges it. Where blocks end with a closer
    (braces, ``end``), the lines around say what it is: one step deeper than the line
    above when that opens a block (``{``, ``case x:``, a braceless ``if (x)``); else one
    step deeper than the line below when that closes the block or starts the next case
    (``}``, ``end``, ``else``, ``case``); else the line below's own indentation, unless it
    continues a statement (``+ 1``, ``.then(f)``: then nothing is known). The completion
    moves as a whole; lines inside strings and brackets keep theirs. Where indentation
    alone ends blocks (Python), a new line above a dedented line may belong to the deeper
    block or the outer one, so the model's own indentation is kept.
    """
    below = ctx.line_suffix
    if not ctx.line_above or ctx.line_prefix or not text.strip() or text.startswith("\n"):
        return text
    if ctx.language.blocks not in ("braces", "keywords"):
        return text
    unit = "\t" if ctx.language.id in TAB_INDENTED else ctx.indent_unit
    above = previous_line(ctx.prefix)
    code_above = code_of(above, ctx.language).strip()
    if code_above.endswith(("{", ":")) or _BRACELESS.match(code_above):
        target = indentation(above) + unit
    elif _CLOSES.match(below.lstrip(" \t")):
        target = indentation(below) + unit
    elif _CONTINUES.match(below.lstrip(" \t")):
        return text
    else:
        target = indentation(below)
    first = indentation(text)
    if first == target:
        return text
    lines = text.split("\n")
    starts = scan(text, ctx.language).line_starts
    for index, line in enumerate(lines):
        if line.strip() and starts[index] and line.startswith(first):
            lines[index] = target + line[len(first) :]
    return "\n".join(lines)


def _drop_repeated_indent(text: str, ctx: FilterContext) -> str:
    r"""Remove indentation the model typed again after the cursor's own indentation.

    With the cursor after indentation (``"    |"``) a model sometimes writes its first line
    as if from column 0 (``"    x = 1\n    return x"``), or one level too deep with its
    lines below following it (``"\tif x {\n\t\t\tf()\n\t\t}"`` after two tabs). Unless the
    line above opens a block the cursor is not yet inside (at the header's own
    indentation, where the extra indentation is what enters the block), a first line
    deeper than the cursor is never what the user positioned the cursor for: it either
    fails to parse, silently joins the block above, or leaves the file mis-indented. The
    lines below are moved back with the first when every one of them is as deep as it was.
    """
    if not ctx.line_prefix or ctx.line_prefix.strip() or not text[:1].isspace():
        return text
    above = previous_line(ctx.prefix)
    if opens_block(above, ctx.language) and indent_width(ctx.line_prefix) <= indent_width(above):
        return text
    first, newline, rest = text.partition("\n")
    extra = indentation(first)
    deep = ctx.line_prefix + extra
    lines = rest.split("\n")
    if newline and extra != first and all(
        line.startswith(deep) for line in lines if line.strip()
    ):
        rest = "\n".join(line[len(extra) :] if line.strip() else line for line in lines)
    return first.lstrip(" \t") + newline + rest


def _reindent(text: str, ctx: FilterContext) -> str:
    """Rewrite the indentation of continuation lines in steps of `ctx.indent_unit`.

    Lines are read relative to the cursor line's indentation; the model's step is the
    smallest relative indentation in spaces, and a tab is one step. Lines inside brackets or
    strings (hanging indents, docstrings) and lines that dedent are left alone.
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    base = indentation(ctx.line_prefix if ctx.line_prefix else lines[0])
    unit = "\t" if ctx.language.id in TAB_INDENTED else ctx.indent_unit
    starts = scan(ctx.line_prefix + text, ctx.language).line_starts
    relative: dict[int, str] = {}
    for index in range(1, len(lines)):
        ws = indentation(lines[index])
        if not lines[index].strip() or not starts[index]:
            continue
        if ws.startswith(base) and ws != base:
            relative[index] = ws[len(base) :]
        elif ws and ws == "\t" * len(ws) and unit != "\t":
            # A model indenting with tabs only, in a file indented with spaces.
            lines[index] = unit * len(ws) + lines[index].lstrip("\t")
    spaces = [len(r) for r in relative.values() if "\t" not in r]
    step = min(spaces, default=0)
    if step and any(width % step for width in spaces):
        step = 0
    uses_tabs = any("\t" in r for r in relative.values())
    if unit == " " * step and not uses_tabs or (unit == "\t" and not spaces):
        return "\n".join(lines)
    for index, rel in relative.items():
        tabs = rel.count("\t")
        blanks = len(rel) - tabs
        if blanks and (not step or blanks % step):
            continue
        levels = tabs + (blanks // step if step else 0)
        lines[index] = base + unit * levels + lines[index].lstrip(" \t")
    return "\n".join(lines)


def block_level(ctx: FilterContext) -> int | None:
    """The indentation a statement at the cursor needs, where the lines around it say.

    Under a line that opens a block, its body's level; otherwise the level of the next line
    with code. None when the cursor follows code on its line or nothing says.
    """
    if ctx.line_prefix.strip():
        return None
    above = previous_line(ctx.prefix)
    if above and opens_block(above, ctx.language):
        return indent_width(above) + indent_width(ctx.indent_unit)
    following = next((line for line in ctx.suffix.split("\n")[1:] if line.strip()), None)
    return indent_width(following) if following is not None else None


def shift_to_block(text: str, ctx: FilterContext) -> str | None:
    """`text` moved as a whole so that its first line sits at `block_level`.

    Lines inside strings and brackets keep their indentation. None when the first line is
    already there, no level is known, or the move would have to take back what the user
    typed before the cursor.
    """
    level = block_level(ctx)
    if level is None or not text.strip() or text.startswith("\n"):
        return None
    typed = indent_width(ctx.line_prefix)
    shift = level - indent_width(ctx.line_prefix + text)
    if shift == 0 or level < typed:
        return None
    lines = text.split("\n")
    starts = scan(ctx.line_prefix + text, ctx.language).line_starts
    for index, line in enumerate(lines):
        if not line.strip() or not starts[index]:
            continue
        width = max(0, indent_width(ctx.line_prefix + line if index == 0 else line) + shift)
        width -= typed if index == 0 else 0
        pad = "\t" * (width // 4) if ctx.indent_unit == "\t" else " " * width
        lines[index] = pad + line.lstrip(" \t")
    return "\n".join(lines)

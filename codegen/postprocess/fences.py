"""Keep only the code when an instruct model wraps it in Markdown fences or prose."""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.postprocess.lexing import indentation, opens_block
from codegen.postprocess.scope import in_string_or_comment
from codegen.types import Candidate
from prompts.languages import PYTHON, Language

_FENCE = re.compile(r"^[ \t]*```[ \t]*[\w+#.-]*[ \t]*$")
_INLINE = re.compile(r"^`([^`\n]+)`$")
# A capitalised word ending the line ("Explanation:", "Sure!") or followed by more words
# ("Here is", "This function"), a Markdown bullet, numbered item or bold text.
_PROSE = re.compile(
    r"^(?:[A-Z][A-Za-z']*(?:[:!.]?$|[,!.:]?\s+[A-Za-z`'\"*(])|(?:[-*]|\d+\.)\s+[A-Za-z`*]|\*\*\w)"
)


def strip_markdown(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Unwrap Markdown fences, drop prose around the code and an echo of the prefix."""
    if in_string_or_comment(ctx.text, ctx.offset, ctx.language):
        return candidate
    code, fenced = _unfence(candidate.insert, ctx)
    code = _drop_prose(code, ctx.language, first_line_whole=not ctx.line_prefix.strip())
    echoless = _strip_echo(code, ctx.prefix, ctx.language, min_lines=1 if fenced else 2)
    if echoless is not None:
        code = echoless
    elif fenced:
        code = _anchor(code, ctx.line_prefix)
    if code == candidate.insert:
        return candidate
    return replace(candidate, insert=code)


def _unfence(text: str, ctx: FilterContext) -> tuple[str, bool]:
    """Return the first fenced block (or inline-code span) and whether one was found."""
    inline = _INLINE.match(text.strip())
    if inline:
        return inline.group(1), True
    lines = text.split("\n")
    opening = next((i for i, line in enumerate(lines) if _FENCE.match(line)), None)
    if opening is None or "```" in ctx.text:
        return text, False
    before = [line for line in lines[:opening] if line.strip()]
    if opening > 0 and before and not all(_is_prose(line, ctx.language) for line in before):
        # Code before a fence: the fence closes the code (the model opened it in the prompt).
        return "\n".join(lines[:opening]).rstrip(), True
    body = lines[opening + 1 :]
    closing = next((i for i, line in enumerate(body) if _FENCE.match(line)), len(body))
    block = body[:closing]
    while block and not block[0].strip():
        block.pop(0)
    return "\n".join(block).rstrip(), True


_CODE_END = re.compile(r"[;{}(),=]$")
"""How a line of C-family code ends, and a sentence does not."""


def _is_prose(line: str, language: Language = PYTHON) -> bool:
    """Tell whether `line` is English or Markdown that cannot be a statement.

    Python checks that the line does not parse; other languages that it does not end the
    way code does (``String name = "x";`` looks like a sentence to the pattern).
    """
    text = line.strip()
    if not _PROSE.match(text):
        return False
    if language is not PYTHON:
        return _CODE_END.search(text) is None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError):
        return True
    return False


def _drop_prose(code: str, language: Language, *, first_line_whole: bool) -> str:
    """Drop prose lines before the code and everything from the first prose line after it."""
    lines = code.split("\n")
    start = 0
    if first_line_whole:
        while start < len(lines) and (
            not lines[start].strip() or _is_prose(lines[start], language)
        ):
            start += 1
        if start == len(lines):
            return code if start == 0 else ""
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i] == lines[i].lstrip() and _is_prose(lines[i], language)
        ),
        len(lines),
    )
    if (start, end) == (0, len(lines)):
        return code
    return "\n".join(lines[start:end]).rstrip()


def _strip_echo(code: str, prefix: str, language: Language, *, min_lines: int) -> str | None:
    """Return the code after a copy of the prefix's last lines, or None when it has none.

    The copy must hold at least `min_lines` complete non-blank lines (or one that opens a
    block) and then the cursor's line up to the cursor.
    """
    prefix_lines = prefix.split("\n")
    code_lines = code.split("\n")
    cursor_line = prefix_lines[-1]
    first = max(0, len(prefix_lines) - 1 - len(code_lines) + 1)
    for start in range(first, len(prefix_lines) - 1):
        whole = prefix_lines[start:-1]
        if not whole[0].strip():
            continue
        copied = [line.rstrip() for line in code_lines[: len(whole)]]
        if copied != [line.rstrip() for line in whole]:
            continue
        written = [line for line in whole if line.strip()]
        if len(written) < min_lines and not any(opens_block(line, language) for line in written):
            continue
        rest = code_lines[len(whole) :]
        head = rest[0]
        if cursor_line.strip():
            if not head.startswith(cursor_line.rstrip()):
                continue
            head = head[len(cursor_line.rstrip()) :]
            head = head.lstrip() if cursor_line != cursor_line.rstrip() else head
        else:
            head = head.lstrip()
        return "\n".join([head, *rest[1:]])
    return None


def _anchor(code: str, line_prefix: str) -> str:
    """Place stand-alone fenced code at the cursor.

    A repeat of the text typed on the cursor's line is dropped, and a block written from
    column 0 is re-based onto the cursor's indentation.
    """
    lines = code.split("\n")
    head = lines[0].lstrip()
    if line_prefix.strip():
        typed = line_prefix.strip()
        if head.startswith(typed):
            head = head[len(typed) :]
            head = head.lstrip() if line_prefix[-1].isspace() else head
        return "\n".join([head, *lines[1:]])
    base = indentation(lines[0])
    cursor = line_prefix
    moved = [
        cursor + line[len(base) :] if line.startswith(base) and line.strip() else line
        for line in lines[1:]
    ]
    if len(base) >= len(cursor):
        moved = lines[1:]
    return "\n".join([head, *moved])

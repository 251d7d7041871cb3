"""Cut a completion where it starts repeating the text after the cursor."""

from __future__ import annotations

from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.postprocess.lexing import scan
from codegen.types import Candidate

_CLOSERS = frozenset(")]}\"'`")
_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))
_CLOSING_LINE = frozenset(")]}; \t,")
"""What a line that only closes brackets is made of (``}``, ``});``)."""


def trim_suffix_overlap(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Drop a repeat of the rest of the cursor's line and of the lines after the cursor."""
    text = _trim_line_tail(candidate.insert, ctx.line_suffix, ctx.language.quotes)
    text = _trim_repeated_lines(text, ctx)
    if text == candidate.insert:
        return candidate
    if not text.strip():
        return None
    return replace(candidate, insert=text)


def _closes_unopened(line: str, tail: str, quotes: tuple[str, ...]) -> bool:
    """Tell whether `line` closes a bracket or a quote (one of `tail`) that it did not open."""
    if any(line.count(close) > line.count(open_) for open_, close in _PAIRS):
        return True
    return any(q in tail and line.count(q) % 2 == 1 for q in quotes)


def _trim_line_tail(text: str, line_suffix: str, quotes: tuple[str, ...]) -> str:
    """Drop the end of the first line when it repeats the rest of the cursor's line.

    A tail of closing brackets or quotes only counts as a repeat when the completion does
    not open them itself: in ``print(|)`` the ``)`` of ``x)`` repeats, that of ``f(x)`` not.
    """
    tail = line_suffix.strip()
    first, newline, rest = text.partition("\n")
    body = first.rstrip()
    if not tail or not body.endswith(tail):
        return text
    if set(tail) <= _CLOSERS and not _closes_unopened(body, tail, quotes):
        return text
    cut = body[: len(body) - len(tail)]
    if line_suffix[:1].isspace():
        cut = cut.rstrip()
    return cut + newline + rest


def _repeats(lines: list[str], following: list[str]) -> bool:
    """Tell whether stripped `lines` retell `following`, the last line possibly cut off."""
    shared = min(len(lines), len(following))
    if lines[: shared - 1] != following[: shared - 1]:
        return False
    last, target = lines[shared - 1], following[shared - 1]
    return target.startswith(last) if shared == len(lines) else last == target


def _trim_repeated_lines(text: str, ctx: FilterContext) -> str:
    """Cut before the completion line where the lines after the cursor start over.

    Several lines must keep matching (ignoring indentation) until the completion or the
    following lines end; the completion's last line may be a cut-off start of its match (the
    model ran out of tokens mid-repeat). A single last line must match exactly, indentation
    included (an extra closing line). A line of closing brackets repeats nothing when it
    closes a bracket the completion opened itself (the ``}`` of its own loop).
    """
    following = [line for line in ctx.suffix.split("\n")[1:] if line.strip()]
    if not following:
        return text
    lines = text.split("\n")
    whole = [ctx.line_prefix + lines[0], *lines[1:]]
    start = 0 if not ctx.line_prefix.strip() else 1
    closes_own = _lines_closing_own_brackets(text, ctx)
    for index in range(start, len(lines)):
        if whole[index].strip() != following[0].strip() or index in closes_own:
            continue
        repeated = [line.strip() for line in whole[index:] if line.strip()]
        if len(repeated) == 1:
            matches = whole[index].rstrip() == following[0].rstrip()
        else:
            matches = _repeats(repeated, [line.strip() for line in following])
        if matches:
            return "\n".join(lines[:index]).rstrip()
    return text


def _lines_closing_own_brackets(text: str, ctx: FilterContext) -> set[int]:
    """Indices of the lines made of closing brackets that close none opened before `text`."""
    unmatched = scan(text, ctx.language).unmatched
    owned: set[int] = set()
    start = 0
    for index, line in enumerate(text.split("\n")):
        end = start + len(line)
        if line.strip() and set(line) <= _CLOSING_LINE:
            if not any(start <= i < end for i in unmatched):
                owned.add(index)
        start = end + 1
    return owned

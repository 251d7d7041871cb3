"""Never write twice the closing brackets and quotes the editor already auto-inserted.

With the cursor in ``foo(|)`` a model writes ``a, b)``: the ``)`` closes a bracket opened
before the cursor, and the editor's own ``)`` follows. When those closers end the
completion it is trimmed (``a, b``); when text comes after them (``console.log("Obj: |")``
and the model writes ``" + obj);``) the item replaces the closers after the cursor instead
(its `Candidate.end` covers ``")``), as Tabby's bracket-stack replace range does.
"""

from __future__ import annotations

from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.postprocess.scope import in_string_or_comment
from codegen.types import Candidate
from prompts.languages import Language

_PAIRS = {")": "(", "]": "[", "}": "{"}
_TEMPLATE = "${"
"""Code inside a JavaScript template string, closed by ``}``."""


def replace_auto_closed(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Trim, or cover with the replace range, closers that the text after the cursor holds."""
    tail = ctx.line_suffix.rstrip()
    text = candidate.insert
    if not tail or "\n" in text or candidate.end != ctx.offset:
        return candidate
    if in_string_or_comment(ctx.text, ctx.offset, ctx.language) and not _open_frames(
        ctx.line_prefix, ctx.language
    ):
        return candidate
    closers = unpaired_closers(ctx.line_prefix, text, ctx.language)
    if not closers:
        return candidate
    unpaired = "".join(text[i] for i in closers)
    if not tail.startswith(unpaired):
        return candidate
    trailing = text[closers[0] :].rstrip()
    if tail.startswith(trailing):
        kept = text[: closers[0]]
        return replace(candidate, insert=kept) if kept.strip() else None
    rest = text[closers[-1] + 1 :].rstrip()
    covered = unpaired + rest if rest and tail[len(unpaired) :].startswith(rest) else unpaired
    return replace(candidate, end=ctx.offset + len(covered))


def unpaired_closers(line_prefix: str, text: str, language: Language) -> list[int]:
    """Indices in `text` of the closers that close a bracket or string opened before it.

    None when `text` leaves open a bracket or string of its own: the text after the cursor
    is then what closes it (``"Hello, |");`` and the model writes ``" + name + "!``).
    """
    frames = _open_frames(line_prefix, language)
    floor = len(frames)
    found: list[int] = []
    for index, depth in _walk(text, language, frames):
        if depth < floor:
            floor = max(depth, 0)
            found.append(index)
    return found if len(frames) <= floor else []


def _open_frames(line_prefix: str, language: Language) -> list[str]:
    """The brackets, strings and template holes open at the end of `line_prefix`."""
    frames: list[str] = []
    for _ in _walk(line_prefix, language, frames):
        pass
    return frames


def _walk(text: str, language: Language, frames: list[str]) -> list[tuple[int, int]]:
    """Track `frames` through `text`; return (index, frames left) for each closing character.

    Frames left is -1 for a closer of nothing open (a bracket opened on an earlier line).
    A line comment ends the walk.
    """
    events: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        top = frames[-1] if frames else ""
        if top in language.quotes:
            if ch == "\\":
                i += 2
                continue
            if top == "`" and text.startswith(_TEMPLATE, i):
                frames.append(_TEMPLATE)
                i += 2
                continue
            if ch == top:
                frames.pop()
                events.append((i, len(frames)))
        elif any(text.startswith(c, i) for c in language.line_comments):
            break
        elif ch in language.quotes:
            frames.append(ch)
        elif ch in "([{":
            frames.append(ch)
        elif ch in _PAIRS:
            if not frames:
                events.append((i, -1))
            elif top == _PAIRS[ch] or (ch == "}" and top == _TEMPLATE):
                frames.pop()
                events.append((i, len(frames)))
        i += 1
    return events

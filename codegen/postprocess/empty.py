"""Drop candidates with nothing to insert and tidy the end of multi-line ones."""

from __future__ import annotations

from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.types import Candidate


def drop_empty(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Drop a blank insert; strip the trailing whitespace and newlines of a multi-line one.

    A new line inserted above code (`FilterContext.line_above`) keeps one newline.
    """
    text = candidate.insert
    if not text.strip():
        return None
    if "\n" not in text:
        return candidate
    tidy = text.rstrip()
    if ctx.line_above:
        tidy += "\n"
    return candidate if tidy == text else replace(candidate, insert=tidy)

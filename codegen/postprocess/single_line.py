"""Keep a single-line completion on the cursor's line."""

from __future__ import annotations

from dataclasses import replace

from codegen.postprocess.base import FilterContext
from codegen.types import Candidate


def limit_to_line(candidate: Candidate, ctx: FilterContext) -> Candidate | None:
    """Cut at the first newline when the scope is single-line; drop an empty first line."""
    if not ctx.single_line:
        return candidate
    first = candidate.insert.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        return None
    if first == candidate.insert:
        return candidate
    return replace(candidate, insert=first)

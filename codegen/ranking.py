"""Order vetted alternatives: candidates that passed every check first, then by log-probability."""

from __future__ import annotations

from collections.abc import Iterable

from codegen.types import Candidate


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Sort best first; ties keep generation order (candidate 0 is the greedy one)."""
    indexed = list(enumerate(candidates))
    indexed.sort(
        key=lambda pair: (
            not pair[1].passed,
            -(pair[1].logprob if pair[1].logprob is not None else float("-inf")),
            pair[0],
        )
    )
    return [candidate for _, candidate in indexed]


def merge_identical(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Keep one candidate per distinct edit, the one with the highest log-probability."""
    best: dict[tuple[str, int], Candidate] = {}
    for candidate in candidates:
        key = (candidate.insert, candidate.end)
        kept = best.get(key)
        if kept is None or (candidate.logprob or float("-inf")) > (kept.logprob or float("-inf")):
            best[key] = candidate
    return list(best.values())

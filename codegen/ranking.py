"""Order alternatives by evidence, then by execution agreement, then by log-probability.

Evidence, worst first: breaks the syntax < adds type errors < fails the embedded tests <
nothing could be run < passes them. Among candidates with the same evidence, those whose
behaviour on the probe inputs is shared by more candidates rank higher: correct programs
agree with each other on every input, wrong ones scatter (CodeT's execution agreement,
arXiv 2207.10397, here as soft agreement: a candidate that agrees with another on part of
the inputs gets that part as support). Model-generated tests, when a caller has them, make
it CodeT's dual agreement instead: candidates that behave alike on the probes and pass the
same generated tests form a consensus set, scored by its size times the tests it passes
(sets that pass none come after all others, by size); this does not apply to candidates
that pass the user's own tests (on recorded HumanEval samples, generated tests made the
choice among those worse: see bench/RESULTS.md). Last come the likelier candidates, then
the order they arrived in. Likelier means the model's log-probability of what is shown
(`shown_logprob`: the generated tokens up to the end of the shown text and the one after
it), not of the whole generation, whose unshown tail would count against a candidate cut
short; the whole generation's is used when not every candidate has per-token figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from codegen.types import Candidate

SYNTAX, TYPES, TESTS, GENERATED = "syntax", "mypy", "tests", "generated"
"""Check names the ranking knows; other checks that fail count as failed tests."""

_FAIL_LEVEL = {SYNTAX: 0, TYPES: 1, TESTS: 2}
UNTESTED_LEVEL = 3
PASSED_LEVEL = 4


def syntax_ok(candidate: Candidate) -> bool:
    """Tell whether no syntax check rejected the candidate."""
    return all(v.ok for v in candidate.verdicts if v.check == SYNTAX)


def evidence_level(candidate: Candidate) -> int:
    """How far the candidate got: 0 breaks the syntax … 4 passes the embedded tests."""
    level = PASSED_LEVEL
    tested = False
    for verdict in candidate.verdicts:
        if not verdict.ran or verdict.check == GENERATED:
            continue
        if not verdict.ok:
            level = min(level, _FAIL_LEVEL.get(verdict.check, _FAIL_LEVEL[TESTS]))
        elif verdict.check == TESTS:
            tested = True
    return UNTESTED_LEVEL if level == PASSED_LEVEL and not tested else level


def behaviour_of(candidate: Candidate) -> tuple[str, ...]:
    """The candidate's values on the probe inputs (empty when nothing was run)."""
    for verdict in candidate.verdicts:
        if verdict.behaviour and verdict.check != GENERATED:
            return verdict.behaviour
    return ()


def generated_outcomes(candidate: Candidate) -> tuple[str, ...]:
    """Per generated test: passed ("1"), failed ("0") or not run ("-").

    Empty when there were no generated tests or the caller did not say which passed.
    """
    for verdict in candidate.verdicts:
        if verdict.check == GENERATED and verdict.ran:
            return verdict.behaviour
    return ()


def generated_passed(candidate: Candidate) -> int | None:
    """How many model-generated tests the candidate passed; None when there were none."""
    for verdict in candidate.verdicts:
        if verdict.check == GENERATED and verdict.ran:
            return verdict.passed
    return None


UNKNOWN = ("!timeout", "!budget")
"""Probe values that say nothing about a program: it ran out of time on that input."""


def _similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Share of probe inputs on which two behaviours agree (1 for identical ones).

    Inputs where either program ran out of time are left out: a slow correct program must
    not lose the support of the programs it agrees with everywhere else.
    """
    if a == b:
        return 1.0
    if not a or len(a) != len(b):
        return 0.0
    known = [(x, y) for x, y in zip(a, b, strict=True) if x not in UNKNOWN and y not in UNKNOWN]
    if not known:
        return 0.0
    return sum(x == y for x, y in known) / len(known)


def agreement(candidates: Sequence[Candidate]) -> list[float]:
    """Per candidate, its support among candidates with the same evidence (itself included)."""
    levels = [evidence_level(c) for c in candidates]
    behaviours = [behaviour_of(c) for c in candidates]
    groups: Counter[tuple[int, tuple[str, ...]]] = Counter()
    for candidate, key in zip(candidates, zip(levels, behaviours, strict=True), strict=True):
        groups[key] += candidate.votes
    support: dict[tuple[int, tuple[str, ...]], float] = {}
    for key in groups:
        level, behaviour = key
        support[key] = sum(
            count * _similarity(behaviour, other)
            for (other_level, other), count in groups.items()
            if other_level == level and behaviour and other
        ) or float(groups[key])
    consensus: Counter[tuple[int, tuple[str, ...], tuple[str, ...]]] = Counter()
    for candidate, level, behaviour in zip(candidates, levels, behaviours, strict=True):
        consensus[level, behaviour, generated_outcomes(candidate)] += candidate.votes
    scores = []
    for candidate, key in zip(candidates, zip(levels, behaviours, strict=True), strict=True):
        passed = generated_passed(candidate)
        # The user's own tests are the better judge: generated ones (often wrong) only
        # weigh in where the candidate did not pass those.
        if passed is None or key[0] == PASSED_LEVEL:
            scores.append(support[key])
            continue
        size = consensus[key[0], key[1], generated_outcomes(candidate)]
        scores.append(size * passed if passed else size * NO_TEST_PASSED)
    return scores


NO_TEST_PASSED = 1e-3
"""Weight of a consensus set that passes no generated test: below any set passing one."""


def shown_end(insert: str, raw: str) -> int | None:
    """Where in `raw` the shown `insert` ends, matching their non-blank characters.

    The filters cut, trim and re-indent the raw text, so the shown text's non-blank
    characters are the start of the raw text's. None when they are not (a repair rewrote
    it) or nothing is shown.
    """
    wanted = "".join(insert.split())
    if not wanted:
        return None
    matched = 0
    for index, char in enumerate(raw):
        if char.isspace():
            continue
        if char != wanted[matched]:
            return None
        matched += 1
        if matched == len(wanted):
            return index + 1
    return None


def shown_logprob(candidate: Candidate) -> float | None:
    """The log-probability of the tokens behind the shown text, and of the one after it.

    The token after it is how the model ended the shown text (a line end, a closer): the
    shown text as a whole, not as a prefix of something longer. None without per-token
    log-probabilities or when the shown text is not the start of the raw one.
    """
    logprobs, ends = candidate.token_logprobs, candidate.token_ends
    if not logprobs or len(logprobs) != len(ends):
        return None
    end = shown_end(candidate.insert, candidate.raw)
    if end is None:
        return None
    total, start = 0.0, 0
    for logprob, token_end in zip(logprobs, ends, strict=True):
        total += logprob
        if start >= end:
            break  # the token after the shown text: counted, then stop
        start = token_end
    return total


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Sort best first: evidence, then agreement, then log-probability, then arrival order."""
    pool = list(candidates)
    support = agreement(pool)
    shown = [shown_logprob(c) for c in pool]
    use_shown = all(s is not None for s in shown)

    def key(index: int) -> tuple[int, float, float, int]:
        candidate = pool[index]
        logprob = shown[index] if use_shown else candidate.logprob
        likelihood = logprob if logprob is not None else float("-inf")
        return (-evidence_level(candidate), -support[index], -likelihood, index)

    return [pool[i] for i in sorted(range(len(pool)), key=key)]


def merge_identical(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Keep one candidate per distinct edit, the likeliest, counting the others as its votes."""
    best: dict[tuple[str, int], Candidate] = {}
    for candidate in candidates:
        key = (candidate.insert, candidate.end)
        kept = best.get(key)
        if kept is None:
            best[key] = candidate
            continue
        likelier = (candidate.logprob or float("-inf")) > (kept.logprob or float("-inf"))
        best[key] = replace(candidate if likelier else kept, votes=kept.votes + candidate.votes)
    return list(best.values())

"""Ranking by evidence, then execution agreement, then log-probability."""

from __future__ import annotations

from codegen.ranking import (
    agreement,
    evidence_level,
    merge_identical,
    rank,
    shown_end,
    shown_logprob,
)
from codegen.types import Candidate
from validators.base import Verdict

OK_SYNTAX = Verdict("syntax", True)
BAD_SYNTAX = Verdict("syntax", False, "adds a syntax error")
TYPE_ERROR = Verdict("mypy", False, "adds 1 type error")
NO_MYPY = Verdict("mypy", True, ran=False)


def run_tests(ok: bool, behaviour: tuple[str, ...] = ()) -> Verdict:
    return Verdict("tests", ok, "" if ok else "fails 1 of 2", passed=2 if ok else 1, total=2,
                   behaviour=behaviour)


def cand(name: str, *verdicts: Verdict, logprob: float | None = None, votes: int = 1) -> Candidate:
    return Candidate(name, name, 0, logprob, verdicts=verdicts, votes=votes)


def names(candidates: list[Candidate]) -> list[str]:
    return [c.insert for c in candidates]


def test_evidence_levels() -> None:
    assert evidence_level(cand("a", BAD_SYNTAX)) == 0
    assert evidence_level(cand("b", OK_SYNTAX, TYPE_ERROR)) == 1
    assert evidence_level(cand("c", OK_SYNTAX, run_tests(False))) == 2
    assert evidence_level(cand("d", OK_SYNTAX, NO_MYPY)) == 3  # nothing could be run
    assert evidence_level(cand("e", OK_SYNTAX, run_tests(True))) == 4


def test_evidence_beats_likelihood() -> None:
    pool = [
        cand("breaks syntax", BAD_SYNTAX, logprob=-0.1),
        cand("type error", OK_SYNTAX, TYPE_ERROR, logprob=-0.2),
        cand("fails tests", OK_SYNTAX, run_tests(False), logprob=-0.3),
        cand("untested", OK_SYNTAX, logprob=-0.4),
        cand("passes", OK_SYNTAX, run_tests(True), logprob=-5.0),
    ]
    assert names(rank(pool)) == ["passes", "untested", "fails tests", "type error", "breaks syntax"]


def test_agreeing_candidates_support_each_other() -> None:
    pool = [
        cand("loner", OK_SYNTAX, run_tests(True, ("1", "2", "9")), logprob=-0.1),
        cand("twin a", OK_SYNTAX, run_tests(True, ("1", "2", "3")), logprob=-0.5),
        cand("twin b", OK_SYNTAX, run_tests(True, ("1", "2", "3")), logprob=-0.6),
    ]
    assert names(rank(pool)) == ["twin a", "twin b", "loner"]
    # Soft agreement: the loner agrees with each twin on 2 of 3 inputs.
    assert agreement(pool) == [1 + 2 * 2 / 3, 2 + 2 / 3, 2 + 2 / 3]


def test_inputs_a_program_ran_out_of_time_on_say_nothing_about_agreement() -> None:
    pool = [
        cand("slow but right", OK_SYNTAX, run_tests(True, ("1", "2", "!timeout")), logprob=-0.5),
        cand("right", OK_SYNTAX, run_tests(True, ("1", "2", "3")), logprob=-0.6),
        cand("wrong", OK_SYNTAX, run_tests(True, ("1", "5", "7")), logprob=-0.1),
    ]
    support = agreement(pool)
    # The slow one agrees with "right" on every input both finished: full support.
    assert support == [1 + 1 + 1 / 2, 1 + 1 + 1 / 3, 1 + 1 / 2 + 1 / 3]
    assert names(rank(pool))[:2] == ["slow but right", "right"]


def test_votes_of_merged_duplicates_count_as_agreement() -> None:
    pool = [
        cand("likely", OK_SYNTAX, run_tests(True, ("1",)), logprob=-0.1),
        cand("sampled thrice", OK_SYNTAX, run_tests(True, ("2",)), logprob=-0.9, votes=3),
    ]
    assert names(rank(pool)) == ["sampled thrice", "likely"]


def test_generated_tests_multiply_support_where_no_own_test_passed() -> None:
    generated = [Verdict("generated", True, passed=p, total=5) for p in (1, 4)]
    untested = Verdict("tests", True, ran=False)
    pool = [
        cand("passes 1", OK_SYNTAX, untested, generated[0], logprob=-0.1),
        cand("passes 4", OK_SYNTAX, untested, generated[1], logprob=-0.2),
    ]
    assert names(rank(pool)) == ["passes 4", "passes 1"]
    # Among candidates that pass the user's own tests, generated tests do not weigh in.
    own = [
        cand("passes 1", OK_SYNTAX, run_tests(True, ("1",)), generated[0], logprob=-0.1),
        cand("passes 4", OK_SYNTAX, run_tests(True, ("2",)), generated[1], logprob=-0.2),
    ]
    assert names(rank(own)) == ["passes 1", "passes 4"]


def generated(outcomes: str) -> Verdict:
    return Verdict("generated", True, passed=outcomes.count("1"), total=len(outcomes),
                   behaviour=tuple(outcomes))


def test_dual_agreement_scores_consensus_sets_by_size_times_tests_passed() -> None:
    untested = Verdict("tests", True, ran=False)
    pool = [
        # A large set that agrees on the probes but passes one generated test...
        cand("crowd", OK_SYNTAX, untested, generated("100"), logprob=-0.1, votes=3),
        # ...and a set of two that passes all three: 2 × 3 beats 3 × 1.
        cand("pair", OK_SYNTAX, Verdict("tests", True, ran=False, behaviour=("7",)),
             generated("111"), logprob=-0.5, votes=2),
        # Passing no test comes last however many agree.
        cand("mob", OK_SYNTAX, untested, generated("000"), logprob=-0.2, votes=9),
    ]
    assert agreement(pool) == [3.0, 6.0, 9 * 1e-3]
    assert names(rank(pool)) == ["pair", "crowd", "mob"]
    # The same tests passed with other behaviour on the probes is another set.
    split = [cand("a", OK_SYNTAX, Verdict("tests", True, ran=False, behaviour=("1",)),
                  generated("11")),
             cand("b", OK_SYNTAX, Verdict("tests", True, ran=False, behaviour=("2",)),
                  generated("11"))]
    assert agreement(split) == [2.0, 2.0]


def test_ties_keep_the_likelier_then_the_first() -> None:
    pool = [cand("a", OK_SYNTAX), cand("b", OK_SYNTAX, logprob=-1.0), cand("c", OK_SYNTAX)]
    assert names(rank(pool)) == ["b", "a", "c"]


def test_shown_end_matches_non_blank_characters() -> None:
    raw = "  if x {\n\t\treturn 1\n\t}\n\tmore()"
    assert shown_end("if x {\n    return 1\n}", raw) == raw.index("}") + 1  # re-indented
    assert shown_end("return 2", raw) is None  # not the start of the raw text
    assert shown_end("", raw) is None


def tokens(*pieces: tuple[str, float]) -> Candidate:
    """A candidate shown whole, with per-token log-probabilities of its raw pieces."""
    raw, ends = "", []
    for text, _ in pieces:
        raw += text
        ends.append(len(raw))
    return Candidate(raw, raw, 0, sum(lp for _, lp in pieces),
                     token_logprobs=tuple(lp for _, lp in pieces), token_ends=tuple(ends))


def test_shown_logprob_counts_the_shown_tokens_and_the_one_ending_them() -> None:
    long = tokens(("return", -0.5), (" x", -0.25), (";\n", -0.125), ("  more", -3.0),
                  ("()", -2.0))
    cut = Candidate("return x;", long.raw, 0, long.logprob, token_logprobs=long.token_logprobs,
                    token_ends=long.token_ends)
    assert shown_logprob(cut) == -0.5 - 0.25 - 0.125 - 3.0  # "  more" ended the line
    assert shown_logprob(long) == long.logprob  # all shown: every token
    assert shown_logprob(Candidate("a", "a", 0, -1.0)) is None  # no per-token figures


def test_a_candidate_cut_short_is_not_charged_for_its_unshown_tail() -> None:
    # The greedy generation went on past the line it shows; the sampled one stopped. By the
    # whole generation the short one wins; by what is shown, the likelier line does.
    right = tokens(("this.name", -1.0), (" = 'E';", -0.5), ("\n", -0.1), ("  more();", -9.0))
    right = Candidate("this.name = 'E';", right.raw, 0, right.logprob,
                      token_logprobs=right.token_logprobs, token_ends=right.token_ends)
    short = tokens(("return", -2.0), (" this;", -1.0), ("\n", -0.5))
    assert (right.logprob or 0) < (short.logprob or 0)
    assert [c.insert for c in rank([short, right])] == ["this.name = 'E';", "return this;\n"]
    # One candidate without per-token figures: all are ranked by the whole generation.
    plain = Candidate("x", "x", 0, -20.0)
    assert [c.insert for c in rank([short, right, plain])][:2] == [
        "return this;\n", "this.name = 'E';"]


def test_merge_identical_keeps_the_likeliest_and_counts_votes() -> None:
    merged = merge_identical(
        [cand("x", logprob=-2.0), cand("y", logprob=-1.0), cand("x", logprob=-0.5)]
    )
    assert [(c.insert, c.logprob, c.votes) for c in merged] == [("x", -0.5, 2), ("y", -1.0, 1)]

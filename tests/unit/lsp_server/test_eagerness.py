"""The score from recorded action sequences, the levels it picks, and the gate."""

from __future__ import annotations

import pytest

from codegen.types import Candidate
from lsp_server.eagerness import (
    EAGER,
    NORMAL,
    PRIOR,
    SUBTLE,
    Action,
    action_value,
    confidence,
    gate_reason,
    level_for,
    score,
)
from validators import Verdict


def values(actions: str) -> list[float]:
    """Actions as letters, oldest first: a(ccepted) p(artial, half) r(ejected) i(gnored)."""
    names: dict[str, Action] = {"a": "accepted", "p": "partial", "r": "rejected",
                                "i": "ignored"}
    return [action_value(names[letter], 0.5) for letter in actions]


def test_no_data_is_neutral_and_a_few_actions_move_it_little() -> None:
    assert score([]) == pytest.approx(PRIOR)
    assert level_for("auto", score([])) is NORMAL
    assert level_for("auto", score(values("rr"))) is NORMAL  # two are not a pattern


def test_repeated_rejections_turn_auto_subtle_and_acceptances_eager() -> None:
    assert level_for("auto", score(values("rrrrr"))) is SUBTLE
    assert level_for("auto", score(values("aaaa"))) is EAGER


def test_recent_actions_weigh_more_than_old_ones() -> None:
    old_good = score(values("aaaaaaaaaa" + "rrrrrrrrrr"))
    old_bad = score(values("rrrrrrrrrr" + "aaaaaaaaaa"))
    assert old_bad > 0.5 > old_good
    assert level_for("auto", score(values("a" * 10 + "r" * 12))) is NORMAL  # still counted
    assert level_for("auto", score(values("a" * 10 + "r" * 30))) is SUBTLE


def test_a_user_accepting_a_quarter_stays_normal() -> None:
    """An ordinary acceptance rate (one in four, the rest typed over or ignored)."""
    assert level_for("auto", score(values("arir" * 10))) is NORMAL


def test_partial_accepts_count_by_how_much_was_taken() -> None:
    assert action_value("partial", 0.0) == pytest.approx(0.5)
    assert action_value("partial", 1.0) == pytest.approx(1.0)
    assert action_value("rejected") < action_value("ignored") < action_value("partial")


def test_fixed_settings_ignore_the_score() -> None:
    assert level_for("eager", 0.0) is EAGER
    assert level_for("subtle", 1.0) is SUBTLE


def candidate(insert: str, logprob: float | None, tokens: int = 0,
              verdicts: tuple[Verdict, ...] = ()) -> Candidate:
    return Candidate(insert, insert, 0, logprob, tokens=tokens, verdicts=verdicts)


def test_confidence_is_per_token_and_estimated_without_a_count() -> None:
    assert confidence(candidate("return a + b", -2.0, tokens=4)) == pytest.approx(-0.5)
    assert confidence(candidate("abcdefg", -2.0)) == pytest.approx(-1.0)  # 7 chars ≈ 2 tokens
    assert confidence(candidate("x", None)) is None


def test_subtle_holds_back_long_and_unsure_suggestions() -> None:
    sure_line = candidate("return a + b", -0.4, tokens=4)
    unsure_line = candidate("return a - b", -4.0, tokens=4)
    block = candidate("if a:\n    return b", -0.4, tokens=8)
    assert gate_reason(sure_line, SUBTLE) == ""
    assert "confidence -1.00" in gate_reason(unsure_line, SUBTLE)
    assert "2 lines" in gate_reason(block, SUBTLE)
    assert gate_reason(block, NORMAL) == ""
    assert gate_reason(unsure_line, NORMAL) == ""  # -1.0 per token is within normal
    assert all(gate_reason(c, EAGER) == "" for c in (sure_line, unsure_line, block))


def test_passing_tests_outweigh_low_confidence() -> None:
    tested = Verdict("tests", ok=True, passed=2, total=2)
    untested = Verdict("tests", ok=True, ran=False)
    assert gate_reason(candidate("return a - b", -8.0, 4, (tested,)), SUBTLE) == ""
    assert gate_reason(candidate("return a - b", -8.0, 4, (untested,)), SUBTLE) != ""

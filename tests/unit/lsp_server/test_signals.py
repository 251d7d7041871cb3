"""What became of a suggestion, told by the client or read from the document's changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen.types import Candidate, CompletionRequest, CompletionResult
from lsp_server.eagerness import PRIOR
from lsp_server.signals import Signals, signals_path

URI = "file:///w/calc.py"
BEFORE = "def add(a, b):\n    "
AFTER = "\n\ndef sub(a, b):\n    return a - b\n"
TEXT = BEFORE + AFTER


@pytest.fixture
def signals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Signals:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    found = Signals()
    found.root = "/w"
    return found


def answer(signals: Signals, ids: list[str], inserts: list[str], text: str = TEXT,
           offset: int = len(BEFORE)) -> CompletionResult:
    request = CompletionRequest(text, offset, "calc.py")
    result = CompletionResult(request, tuple(Candidate(i, i, offset) for i in inserts))
    signals.issued(URI, result, ids, {"latencyMs": 12.0, "model": "m"})
    return result


def test_accepting_through_the_command_counts_once(signals: Signals) -> None:
    answer(signals, ["1", "2"], ["return a + b", "return b + a"])
    signals.changed(URI, BEFORE + "return a + b" + AFTER)  # the editor inserts it first
    signals.accepted("1")
    summary = signals.summary()
    assert (summary["shown"], summary["accepted"], summary["rejected"]) == (1, 1, 0)
    assert summary["acceptanceRate"] == 1.0
    assert signals.score() > PRIOR


def test_typing_other_text_rejects_and_the_place_remembers(signals: Signals) -> None:
    result = answer(signals, ["1"], ["return a + b"])
    signals.changed(URI, BEFORE + "r" + AFTER)  # typing through: nothing yet
    assert signals.summary()["rejected"] == 0
    signals.changed(URI, BEFORE + "ri" + AFTER)  # "ri" is not how the suggestion goes on
    assert signals.summary()["rejected"] == 1
    assert signals.is_rejected(URI, TEXT, len(BEFORE), result.items[0])
    elsewhere = BEFORE.replace("add", "plus") + AFTER
    assert not signals.is_rejected(URI, elsewhere, len(BEFORE) + 1, result.items[0])
    other = Candidate("return b + a", "return b + a", len(BEFORE))
    assert not signals.is_rejected(URI, TEXT, len(BEFORE), other)


def test_an_edit_away_from_the_place_keeps_it(signals: Signals) -> None:
    head = "import os\n\n\n"
    answer(signals, ["1"], ["return a + b"], head + TEXT, len(head + BEFORE))
    signals.dismissed("1")
    edited = "import math\n" + head + TEXT + "# end\n"
    offset = len("import math\n" + head + BEFORE)
    again = Candidate("return a + b", "return a + b", offset)
    assert signals.is_rejected(URI, edited, offset, again)
    assert not signals.is_rejected(URI, edited.replace("(a, b)", "(a, c)", 1), offset, again)


def test_typing_through_then_an_answer_for_the_rest_is_one_suggestion(signals: Signals) -> None:
    answer(signals, ["1"], ["return a + b"])
    signals.changed(URI, BEFORE + "ret" + AFTER)
    typed = BEFORE + "ret" + AFTER
    answer(signals, ["2"], ["urn a + b"], typed, len(BEFORE) + 3)  # type-through answer
    signals.accepted("2")
    summary = signals.summary()
    assert (summary["shown"], summary["accepted"], summary["ignored"]) == (1, 1, 0)


def test_partial_accept_then_dismiss_is_a_partial(signals: Signals) -> None:
    answer(signals, ["1"], ["return a + b"])
    signals.changed(URI, BEFORE + "return" + AFTER)
    signals.partially_accepted("1", 6)
    answer(signals, ["2"], [" a + b"], BEFORE + "return" + AFTER, len(BEFORE) + 6)
    signals.dismissed("2")
    summary = signals.summary()
    assert (summary["partiallyAccepted"], summary["rejected"]) == (1, 0)
    line = json.loads(signals_path("/w").read_text().splitlines()[-1])
    assert line["action"] == "partial"
    assert line["fraction"] == pytest.approx(0.5)  # "return" of "return a + b"


def test_partial_lengths_are_utf16_units(signals: Signals) -> None:
    answer(signals, ["1"], ["s = '😀x' + y"])
    signals.partially_accepted("1", 7)  # s = '😀 is 7 units: the emoji takes two
    signals.partially_accepted("1", 13)
    assert signals.summary()["accepted"] == 1


def test_an_edit_elsewhere_or_a_request_elsewhere_ignores_it(signals: Signals) -> None:
    answer(signals, ["1"], ["return a + b"])
    signals.changed(URI, "# note\n" + TEXT)
    answer(signals, ["2"], ["return a + b"])
    answer(signals, ["3"], ["return a - b"], TEXT, len(TEXT))  # another place
    summary = signals.summary()
    assert (summary["shown"], summary["ignored"]) == (3, 2)


def test_cycling_changes_which_alternative_is_judged(signals: Signals) -> None:
    result = answer(signals, ["1", "2"], ["return a + b", "return b + a"])
    signals.shown("2")
    signals.dismissed("2")
    assert signals.is_rejected(URI, TEXT, len(BEFORE), result.items[1])
    assert not signals.is_rejected(URI, TEXT, len(BEFORE), result.items[0])


def test_an_accept_overrules_an_earlier_guess(signals: Signals) -> None:
    answer(signals, ["1"], ["return a + b"])
    signals.changed(URI, BEFORE + "return  a + b" + AFTER)  # the editor reindented it
    assert signals.summary()["rejected"] == 1
    signals.accepted("1")
    summary = signals.summary()
    assert (summary["rejected"], summary["accepted"]) == (0, 1)


def test_unknown_items_are_ignored(signals: Signals) -> None:
    signals.accepted("nope")
    signals.partially_accepted("nope", 3)
    signals.dismissed("nope")
    signals.shown("nope")
    assert signals.summary()["shown"] == 0


def test_the_score_outlives_the_server_and_holds_no_code(signals: Signals,
                                                         tmp_path: Path) -> None:
    for index in range(6):
        answer(signals, [str(index)], ["return a + b"], TEXT.replace("add", f"f{index}"))
        signals.dismissed(str(index))
    later = Signals()
    later.root = "/w"
    assert later.score() == pytest.approx(signals.score())
    assert later.score() < PRIOR
    log = signals_path("/w").read_text()
    assert "return" not in log and "add" not in log
    other = Signals()
    other.root = "/elsewhere"
    assert other.score() == pytest.approx(PRIOR)


def test_a_damaged_log_is_read_around(signals: Signals) -> None:
    path = signals_path("/w")
    path.parent.mkdir(parents=True)
    path.write_text('{"value": 1.0}\nnot json\n{"value": "x"}\n{"value": 7}\n')
    assert signals.score() > PRIOR  # the one good line counted, the rest skipped


def test_each_end_is_reported_with_the_alternative_and_the_share_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    heard: list[tuple[str, str, float]] = []
    signals = Signals(on_action=lambda *event: heard.append(event))
    answer(signals, ["1", "2"], ["return a + b", "return b + a"])
    signals.shown("2")
    signals.partially_accepted("2", 6)
    signals.changed(URI, "# elsewhere\n" + BEFORE + "return" + AFTER)
    [(action, item_id, fraction)] = heard
    assert (action, item_id, fraction) == ("partial", "2", 0.5)  # "return" of "return b + a"

"""Recent edits: keystrokes merged into hunks, the newest within budget, never a secret."""

from __future__ import annotations

import pytest

from prompts.recent_edits import (
    MAX_DOCUMENT_CHARS,
    EditRecorder,
    Hunk,
    budget_chars,
    changed_lines,
    diff_hunks,
    render_edits,
)

SHOP = """\
import math


def price(net):
    return net


def total(items):
    return sum(items)
"""


def type_text(recorder: EditRecorder, key: str, text: str, offset: int, typed: str) -> str:
    """Type `typed` at `offset` one character at a time, as an editor sends it."""
    for index in range(1, len(typed) + 1):
        recorder.changed(key, text[:offset] + typed[:index] + text[offset:])
    return text[:offset] + typed + text[offset:]


def recorder_with_shop() -> EditRecorder:
    recorder = EditRecorder()
    recorder.opened("shop", "shop/main.py", SHOP, "python")
    return recorder


def test_the_keystrokes_of_one_line_are_one_hunk() -> None:
    recorder = recorder_with_shop()
    type_text(recorder, "shop", SHOP, SHOP.index("net)"), "rate, ")
    assert render_edits(recorder.hunks("python"), 1000) == (
        "--- a/shop/main.py\n+++ b/shop/main.py\n"
        "@@ -3,3 +3,3 @@\n"
        " \n"
        "-def price(net):\n"
        "+def price(rate, net):\n"
        "     return net\n"
    )


def test_an_edit_further_away_is_a_new_hunk_shown_after_the_first() -> None:
    recorder = recorder_with_shop()
    text = type_text(recorder, "shop", SHOP, SHOP.index("net)"), "rate, ")
    text = type_text(recorder, "shop", text, text.index("sum(items)") + 9, ", 0.0")
    assert render_edits(recorder.hunks("python"), 1000) == (
        "--- a/shop/main.py\n+++ b/shop/main.py\n"
        "@@ -3,3 +3,3 @@\n"
        " \n"
        "-def price(net):\n"
        "+def price(rate, net):\n"
        "     return net\n"
        "@@ -8,2 +8,2 @@\n"
        " def total(items):\n"
        "-    return sum(items)\n"
        "+    return sum(items, 0.0)\n"
    )


def test_a_new_line_typed_below_the_edit_joins_it() -> None:
    recorder = recorder_with_shop()
    end = SHOP.index("return net") + len("return net")
    text = type_text(recorder, "shop", SHOP, end, " * rate")
    type_text(recorder, "shop", text, end + len(" * rate"), "\n    # rounded")
    hunks = recorder.hunks("python")
    assert [h.lines for h in hunks] == [
        (" def price(net):", "-    return net", "+    return net * rate", "+    # rounded", " "),
    ]


def test_a_line_break_typed_above_the_edit_after_blank_lines_joins_it() -> None:
    recorder = recorder_with_shop()
    text = type_text(recorder, "shop", SHOP, SHOP.index("sum(items)") + 9, ", 0.0")  # line 8
    # Enter at the start of line 7 could as well be at the end of line 4, 5 or 6: it is
    # placed where it joins the edit of line 8.
    type_text(recorder, "shop", text, text.index("def total"), "\n")
    assert [h.lines for h in recorder.hunks("python")] == [
        ("+", " ", " def total(items):", "-    return sum(items)", "+    return sum(items, 0.0)"),
    ]


def test_an_edit_typed_and_undone_leaves_no_hunk() -> None:
    recorder = recorder_with_shop()
    type_text(recorder, "shop", SHOP, 0, "#")
    recorder.changed("shop", SHOP)
    assert recorder.hunks("python") == []


def test_the_edit_at_the_cursor_is_left_out_and_the_others_stay() -> None:
    recorder = recorder_with_shop()
    text = type_text(recorder, "shop", SHOP, SHOP.index("net)"), "rate, ")  # line 3
    type_text(recorder, "shop", text, text.index("sum(items)") + 9, ", 0.0")  # line 8
    # The cursor in the edit of line 8 (or next to it): only the finished one is shown.
    for line in (7, 8, 9):
        assert [h.new_start for h in recorder.hunks("python", ("shop", line))] == [3]
    # Elsewhere in the document, or in another one: both are.
    assert [h.new_start for h in recorder.hunks("python", ("shop", 1))] == [3, 8]
    assert [h.new_start for h in recorder.hunks("python", ("other", 8))] == [3, 8]


def test_other_documents_are_shown_by_group_in_the_order_edited() -> None:
    recorder = recorder_with_shop()
    recorder.opened("util", "shop/util.py", "def clamp(x):\n    return x\n", "python")
    recorder.opened("app", "web/app.ts", "let a = 1;\n", "javascript")
    type_text(recorder, "util", "def clamp(x):\n    return x\n", 25, ", 0")
    type_text(recorder, "app", "let a = 1;\n", 9, "0")
    type_text(recorder, "shop", SHOP, 0, "# prices\n")
    assert [h.path for h in recorder.hunks("python")] == ["shop/util.py", "shop/main.py"]
    assert [h.path for h in recorder.hunks("javascript")] == ["web/app.ts"]


def test_a_closed_document_keeps_its_edits_and_forgets_its_text() -> None:
    recorder = recorder_with_shop()
    type_text(recorder, "shop", SHOP, 0, "# prices\n")
    recorder.closed("shop")
    recorder.changed("shop", "anything")  # a change after close is not recorded
    assert [h.lines for h in recorder.hunks("python")] == [("+# prices", " import math")]


def test_only_the_last_hunks_are_kept() -> None:
    recorder = EditRecorder(max_hunks=2)
    text = "".join(f"line{n}\n\n\n" for n in range(4))
    recorder.opened("doc", "doc.py", text, "python")
    for n in range(4):  # each edit three lines from the last: four hunks
        text = text.replace(f"line{n}\n", f"LINE{n}\n")
        recorder.changed("doc", text)
    recorder.closed("doc")
    assert [h.lines[-2] for h in recorder.hunks("python")] == ["+LINE2", "+LINE3"]


def test_a_document_over_the_limit_is_not_recorded() -> None:
    recorder = EditRecorder()
    huge = "x = 1\n" * (MAX_DOCUMENT_CHARS // 6 + 1)
    recorder.opened("huge", "huge.py", huge, "python")
    recorder.changed("huge", "y = 2\n" + huge)
    assert recorder.hunks("python") == []


SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # typed: the added line goes, the edit around it stays
        ("a = 1\nb = 2\n", f"a = 1\nTOKEN = '{SECRET}'\nb = 3\n"),
        # deleted: a removed secret is still a secret
        (f"a = 1\nTOKEN = '{SECRET}'\nb = 2\n", "a = 1\nb = 3\n"),
        # a .env line, caught before its line gets a diff mark in front of it
        ("DEBUG=1\n", "DEBUG=0\nAPI_TOKEN=ab12cd34ef56gh78ij90\n"),
        # a private key: its base64 body has no marker of its own
        ("x = 1\n", "x = 1\nKEY = '''\n-----BEGIN RSA PRIVATE KEY-----\n"
         "MIIEowIBAAKCAQEA7bq98e3qZl1Qk2mJ9x\n-----END RSA PRIVATE KEY-----\n'''\n"),
    ],
)
def test_no_line_with_a_secret_enters_a_hunk(before: str, after: str) -> None:
    rendered = render_edits(diff_hunks("s.py", before, after, group="python"), 10_000)
    assert "ghp_" not in rendered and "ab12cd34" not in rendered
    assert "PRIVATE KEY" not in rendered and "MIIEow" not in rendered
    assert rendered.startswith("--- a/s.py\n")  # the rest of the edit is shown


def test_the_secret_typed_keystroke_by_keystroke_never_shows() -> None:
    recorder = recorder_with_shop()
    text = type_text(recorder, "shop", SHOP, 0, f"TOKEN = '{SECRET}'\n")
    for line in (0, 5):
        assert SECRET[:12] not in render_edits(recorder.hunks("python", ("shop", line)), 10_000)
    recorder.changed("shop", text.replace("import math", "import cmath"))
    assert "ghp_" not in render_edits(recorder.hunks("python"), 10_000)


def hunk(number: int, path: str = "a.py") -> Hunk:
    return Hunk(path, number, number, (f"-old{number}", f"+new{number}"), "python", number)


def test_the_budget_drops_the_oldest_hunks_first() -> None:
    hunks = [hunk(1), hunk(2, "b.py"), hunk(3)]
    whole = render_edits(hunks, 10_000)
    assert whole == (
        "--- a/a.py\n+++ b/a.py\n@@ -1,1 +1,1 @@\n-old1\n+new1\n"
        "--- a/b.py\n+++ b/b.py\n@@ -2,1 +2,1 @@\n-old2\n+new2\n"
        "--- a/a.py\n+++ b/a.py\n@@ -3,1 +3,1 @@\n-old3\n+new3\n"
    )
    assert render_edits(hunks, len(whole) - 1) == whole[whole.index("--- a/b.py") :]
    assert render_edits(hunks, 60) == whole[whole.index("--- a/a.py\n+++ b/a.py\n@@ -3") :]


def test_a_newest_hunk_over_the_budget_alone_is_cut_to_its_head() -> None:
    big = Hunk("a.py", 1, 1, tuple(f"+line {n}" for n in range(40)), "python", 1)
    rendered = render_edits([hunk(0), big], 100)
    assert rendered.startswith("--- a/a.py\n+++ b/a.py\n@@ -1,0 +1,")
    assert "+line 0\n" in rendered and "old0" not in rendered and len(rendered) <= 100


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("a\nb\nc\n", "a\nB\nc\n", (1, 1, 1, 0)),  # one line changed
        ("a\nb\nc\n", "a\nb\nx\ny\nc\n", (1, 1, 3, 1)),  # two lines inserted, after b's end
        ("a\nb\nc\n", "a\nc\n", (0, 1, 0, 1)),  # b deleted: from a's line break on
        ("a\n", "a\nb", (1, 1, 1, 0)),  # typed at the end, no newline
        ("a\n\n\nb", "a\n\n\n\nb", (0, 0, 1, 3)),  # Enter among blank lines: any of them
        ("x" * 9000 + "\nq\n", "x" * 9000 + "\nQ\n", (1, 1, 1, 0)),  # past the first blocks
    ],
)
def test_changed_lines(old: str, new: str, expected: tuple[int, int, int, int]) -> None:
    assert changed_lines(old, new) == expected


def test_the_budget_is_a_quarter_of_the_prompt_at_three_characters_a_token() -> None:
    assert budget_chars(1536) == 1152


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a new file: every line added, no phantom empty line before them
        ("", "import os\n\nx = 1\n", ("+import os", "+", "+x = 1")),
        # a last line without a newline, then typed on
        ("a\n", "a\nb", (" a", "+b")),
        # a form feed inside a line splits no row: the secret after it is still found
        ("\f\nx = 1\n", f"\f\nx = 2\nTOKEN = '{SECRET}'\n", (" \f", "-x = 1", "+x = 2")),
    ],
)
def test_diff_hunks_lines(old: str, new: str, expected: tuple[str, ...]) -> None:
    assert [h.lines for h in diff_hunks("a.py", old, new)] == [expected]

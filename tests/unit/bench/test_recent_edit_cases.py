"""The recent-edits benchmark: cases from a history, and their scores (`bench.recent_edits`)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.recent_edits import (
    Record,
    Score,
    build_cases,
    file_edits,
    load_records,
    retypable_rows,
    shown_lines,
    similarity,
)

SHOP = '''\
"""Prices of a shop."""


def price(net):
    return net


TAX = 0.2


def total(items):
    # all of them
    return sum(items)
'''
SHOP_EDITED = '''\
"""Prices of a shop."""


def price(net, rate):
    return net * (1 + rate)


TAX = 0.2


def total(items, rate):
    # all of them, taxed
    return sum(price(item, rate) for item in items)
'''
UTIL = "def clamp(x):\n    return x\n"
UTIL_EDITED = "def clamp(x, low):\n    return max(x, low)\n"


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for path, text in files.items():
        (repo / path).write_text(text, encoding="utf-8")
    subprocess.run(["git", "-C", str(repo), "add", *files], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "-m", message], check=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    commit(tmp_path, {"shop.py": SHOP, "util.py": UTIL, "notes.txt": "a\n"}, "first")
    commit(tmp_path, {"shop.py": SHOP_EDITED, "util.py": UTIL_EDITED, "notes.txt": "b\n"},
           "taxes")
    return tmp_path


def test_each_hunk_after_another_is_a_case_with_the_earlier_hunks_as_recent_edits(
    repo: Path,
) -> None:
    cases = build_cases(repo, "HEAD", 10, 1536)
    # The root commit has no parent; shop.py's first hunk (lines 4-5) has no edit before
    # it; its second (lines 11-13) and util.py's have. The text file is no Python.
    assert [(c.path, c.hunk) for c in cases] == [("shop.py", 1), ("util.py", 0)]
    shop, util = cases
    assert shop.expected in ("def total(items, rate):",
                             "return sum(price(item, rate) for item in items)")
    # The document is the committed file with that line emptied but for its indentation.
    lines = SHOP_EDITED.split("\n")
    indent = lines[shop.row][: len(lines[shop.row]) - len(lines[shop.row].lstrip())]
    assert shop.text == "\n".join([*lines[: shop.row], indent, *lines[shop.row + 1 :]])
    assert shop.text[: shop.offset].endswith("\n" + indent)
    assert shop.recent_edits == (
        "--- a/shop.py\n+++ b/shop.py\n"
        "@@ -3,4 +3,4 @@\n"
        " \n"
        "-def price(net):\n"
        "-    return net\n"
        "+def price(net, rate):\n"
        "+    return net * (1 + rate)\n"
        " \n"
    )
    # util.py sees both hunks of shop.py, the latest nearest.
    assert util.recent_edits == shop.recent_edits + (
        "@@ -10,4 +10,4 @@\n"
        " \n"
        "-def total(items):\n"
        "-    # all of them\n"
        "-    return sum(items)\n"
        "+def total(items, rate):\n"
        "+    # all of them, taxed\n"
        "+    return sum(price(item, rate) for item in items)\n"
    )


def test_the_budget_keeps_the_latest_hunks(repo: Path) -> None:
    util = build_cases(repo, "HEAD", 10, 300)[-1]  # 225 characters: one hunk
    assert util.recent_edits.startswith("--- a/shop.py\n+++ b/shop.py\n@@ -10,4 +10,4 @@\n")
    assert "price(net" not in util.recent_edits


def test_a_commit_too_large_to_be_typed_gives_no_case(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bench.recent_edits.MAX_COMMIT_LINES", 10)
    assert build_cases(repo, "HEAD", 10, 1536) == []


def test_the_subset_is_the_same_each_time(repo: Path) -> None:
    assert build_cases(repo, "HEAD", 1, 1536) == build_cases(repo, "HEAD", 1, 1536)
    assert len(build_cases(repo, "HEAD", 1, 1536)) == 1


def test_only_lines_of_code_are_retyped() -> None:
    source = ('"""A module\nwith a docstring."""\n\nX = """\ntext\n"""\n'
              "# a comment\n\ndef f(a):\n    return a\n    pass\n")
    # Rows: 0-1 docstring, 3-5 a multi-line string, 6 a comment, 7 blank, 8-10 code
    # (`pass` is four characters, the shortest line retyped).
    assert retypable_rows(source) == {8, 9, 10}
    assert retypable_rows("def f(:\n") is None


def test_changes_three_lines_apart_are_two_hunks() -> None:
    old = ["a\n", "b\n", "c\n", "d\n", "e\n", "f\n"]
    new = ["A\n", "b\n", "c\n", "d\n", "E\n", "f\n"]
    assert [e.added for e in file_edits(old, new)] == [(0,), (4,)]
    closer = ["A\n", "b\n", "c\n", "D\n", "e\n", "f\n"]
    assert [e.added for e in file_edits(old, closer)] == [(0, 3)]


def test_a_run_s_records_read_back_for_a_report(tmp_path: Path) -> None:
    record = Record("abc:shop.py:5", "edits", "return net * rate", "\nreturn net\n  x",
                    "return net * rate\n", Score(True, False, True), Score(True, True, True),
                    612, 180, False)
    out = tmp_path / "run.jsonl"
    out.write_text(json.dumps(asdict(record)) + "\n", encoding="utf-8")
    assert load_records(out) == [record]
    # The first line a plain client shows skips the leading newline; vetted's is its own.
    assert shown_lines(record) == {"first_line": "return net", "vetted": "return net * rate"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("return  net *  rate", 1.0),  # whitespace runs do not count
        ("return net", 20 / 27),  # 2 × 10 matching characters of 10 + 17
        (None, 0.0),  # nothing shown
        ("   ", 0.0),  # a blank line is nothing shown
    ],
)
def test_similarity(line: str | None, expected: float) -> None:
    assert similarity("return net * rate", line) == pytest.approx(expected)

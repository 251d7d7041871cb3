from __future__ import annotations

import pytest

from codegen.postprocess.lexing import indent_width, opens_block, scan
from prompts.languages import by_id


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        # Every line of plain code starts in code.
        ("a\nb", (True, True)),
        # A line inside brackets does not.
        ("f(\n1)\nx", (True, False, True)),
        # A line inside a triple-quoted string does not.
        ('"""\nx\n"""\ny', (True, False, False, True)),
        # Brackets in strings and comments do not count.
        ("s = '('  # (\nx", (True, True)),
        # A backslash continuation does not.
        ("x = 1 + \\\n2\ny", (True, False, True)),
    ],
)
def test_scan_line_starts(text: str, starts: tuple[bool, ...]) -> None:
    assert scan(text).line_starts == starts


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A def header.
        ("def f():", True),
        # A colon followed by a comment.
        ("if x:  # check: y", True),
        # A dict entry.
        ('"a": 1,', False),
        # A slice.
        ("x = y[1:]", False),
    ],
)
def test_opens_block(line: str, expected: bool) -> None:
    assert opens_block(line) is expected


def test_indent_width_counts_a_tab_as_four() -> None:
    assert indent_width("\t  x") == 6


@pytest.mark.parametrize(
    ("language_id", "text", "starts", "unmatched"),
    [
        # Inside a function body's braces lines start statements.
        ("javascript", "if (x) {\nf(\n1)\n}", (True, True, False, True), ()),
        # Brackets in // and /* */ comments and strings do not count.
        ("go", "a // (\n/* {\n */ s := \")\"", (True, True, False), ()),
        # A template string spans lines.
        ("typescript", "`a\n${b}`\nc", (True, False, True), ()),
        # A closer of a bracket opened before the text.
        ("rust", "x\n}\nfn f() {}", (True, True, True), (2,)),
    ],
)
def test_scan_other_languages(
    language_id: str, text: str, starts: tuple[bool, ...], unmatched: tuple[int, ...]
) -> None:
    language = by_id(language_id)
    assert language is not None
    found = scan(text, language)
    assert (found.line_starts, found.unmatched) == (starts, unmatched)


@pytest.mark.parametrize(
    ("language_id", "line", "expected"),
    [
        ("java", "for (int v : values) {  // each", True),
        ("go", "x := map[string]int{}", False),
        ("ruby", "items.each do |item|", True),
        ("ruby", "def name; end", False),
    ],
)
def test_opens_block_other_languages(language_id: str, line: str, expected: bool) -> None:
    language = by_id(language_id)
    assert language is not None
    assert opens_block(line, language) is expected

"""How the other-language FIM benchmark scores a program (`bench.fim_languages.score`)."""

from __future__ import annotations

import pytest

from bench.fim_language_cases import cut
from bench.fim_languages import Score, score
from prompts.languages import by_id

SOURCE = """\
export function clamp(value: number): number {
  if (value > 10) {
    return 10;
  }
  return value;
}
"""


@pytest.mark.parametrize(
    ("insert", "expected"),
    [
        # The hole's own line: right, parses, indented as the file.
        ("return value;", Score(shown=True, exact=True, parses=True, indented=True)),
        # Right but one level too deep: exact ignores whitespace, indentation does not.
        ("  return value;", Score(shown=True, exact=True, parses=True, indented=False)),
        # Wrong and broken.
        ("if (value) {", Score(shown=True, exact=False, parses=False, indented=True)),
    ],
)
def test_score(insert: str, expected: Score) -> None:
    language = by_id("typescript")
    assert language is not None
    case = cut(language, "pkg-1.0/clamp.ts", SOURCE, 4, 0)
    program = case.text[: case.offset] + insert + case.text[case.offset :]
    assert score(program, case) == expected


def test_nothing_shown_scores_nothing() -> None:
    language = by_id("typescript")
    assert language is not None
    assert score(None, cut(language, "pkg-1.0/clamp.ts", SOURCE, 4, 0)) == Score(shown=False)

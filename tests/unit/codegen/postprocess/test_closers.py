from __future__ import annotations

import pytest

from codegen.postprocess.base import FilterContext
from codegen.postprocess.closers import replace_auto_closed
from codegen.types import Candidate
from prompts.languages import language_for

JAVASCRIPT = language_for("javascript")


@pytest.mark.parametrize(
    ("marked", "insert", "shown", "replaced"),
    [
        # The editor's ")" ends the completion: trimmed.
        ("foo(║)", "a, b)", "a, b", ""),
        # Text follows the closer: the item replaces the editor's ")".
        ("foo(║)", "a, b);", "a, b);", ")"),
        # Closing the string and the call: both replaced.
        ('console.log("Obj: ║")', '" + obj)', '" + obj)', '")'),
        # A template hole, its string and the call, and the ";" after them.
        ("log(`Hi ${║}`);", "name}!`);", "name}!`);", "}`);"),
        # The completion opens a string the editor's quote closes: left alone.
        ('f("a║");', '" + b + "c', '" + b + "c', ""),
        # More closers than were opened on the line (one closes an earlier line's bracket):
        # they are not the editor's, left alone (this once raised on the second ")").
        ("f(║)", "a)) + b", "a)) + b", ""),
        # Its own brackets only: nothing to do.
        ("f(║)", "g(x)", "g(x)", ""),
    ],
)
def test_replace_auto_closed(marked: str, insert: str, shown: str, replaced: str) -> None:
    offset = marked.index("║")
    text = marked.replace("║", "")
    ctx = FilterContext(text, offset, single_line=True, language=JAVASCRIPT)
    result = replace_auto_closed(Candidate(insert, insert, offset), ctx)
    assert result is not None
    assert (result.insert, text[offset : result.end]) == (shown, replaced)

"""Lines, positions and incremental edits counted as editors count them."""

from __future__ import annotations

from lsprotocol import types

from lsp_server.convert import from_lsp_position, to_lsp_position
from lsp_server.documents import LineDocument, split_lines


def test_only_cr_lf_and_crlf_end_lines() -> None:
    text = "a\x0cb\x85c\u2028d\r\ne\rf\ng"
    assert split_lines(text) == ("a\x0cb\x85c\u2028d\r\n", "e\r", "f\n", "g")
    assert split_lines("") == ()
    assert split_lines("x\n") == ("x\n",)


def test_the_end_of_a_file_without_a_final_newline_is_on_its_last_line() -> None:
    document = LineDocument("file:///t.py", "def f():\n    return 1")
    end = len(document.source)
    assert to_lsp_position(document, end) == types.Position(1, 12)
    assert from_lsp_position(document, types.Position(1, 12)) == end
    with_newline = LineDocument("file:///t.py", "x = 1\n")
    assert to_lsp_position(with_newline, 6) == types.Position(1, 0)


def test_a_form_feed_does_not_move_positions_or_edits() -> None:
    document = LineDocument("file:///t.py", "a = 1\x0c\nb = 2\n")
    assert to_lsp_position(document, document.source.index("b")) == types.Position(1, 0)
    document.apply_change(types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 4), types.Position(1, 5)), text="3"))
    assert document.source == "a = 1\x0c\nb = 3\n"

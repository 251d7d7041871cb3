"""The language registry and its grammars."""

from __future__ import annotations

import pytest

from prompts import grammars
from prompts.languages import LANGUAGES, PLAIN, Language, language_for


@pytest.mark.parametrize(("language_id", "path", "expected"), [
    ("typescript", "a.ts", "typescript"),
    ("typescriptreact", "a.tsx", "typescriptreact"),
    ("javascriptreact", "a.jsx", "javascript"),
    ("shellscript", "run", "shellscript"),
    ("cpp", "vector.h", "cpp"),  # the editor's word beats the extension
    ("", "main.GO", "go"),
    ("plaintext", "lib.rs", "rust"),  # an id we do not know falls back to the extension
    (None, "notes.txt", "plaintext"),
    ("cobol", "x.cbl", "plaintext"),
])
def test_a_document_language_comes_from_its_id_then_its_extension(
    language_id: str | None, path: str, expected: str
) -> None:
    assert language_for(language_id, path).id == expected


@pytest.mark.parametrize("language", LANGUAGES, ids=[lang.id for lang in LANGUAGES])
def test_every_grammar_loads_and_finds_an_error(language: Language) -> None:
    assert grammars.grammar_problem(language) == ""
    broken = {"json": '{"a": }', "yaml": "a: [1, 2\n", "toml": "a = = 1\n",
              "html": "<div></span>", "css": "a { color: ; }}",
              "php": "<?php f(((;\n"}.get(language.id, "f(((;\n")
    assert grammars.parse(language, broken).root_node.has_error


def test_a_grammar_that_does_not_load_is_a_reason_not_a_crash() -> None:
    missing = Language("klingon", "Klingon", (".tlh",), ("tree_sitter_klingon", "language"))
    assert "does not load" in grammars.grammar_problem(missing)
    with pytest.raises(grammars.GrammarError, match="Klingon"):
        grammars.parse(missing, "x")
    assert grammars.grammar_problem(PLAIN) == "no grammar for plain text"


def test_a_document_over_the_limit_is_not_parsed() -> None:
    [javascript] = [lang for lang in LANGUAGES if lang.id == "javascript"]
    with pytest.raises(ValueError, match="over the syntax check"):
        grammars.parse(javascript, "x;" * (grammars.MAX_PARSE_BYTES // 2 + 1))

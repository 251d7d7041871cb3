"""The syntax gate in languages other than Python, on real snippets."""

from __future__ import annotations

import time

import pytest

from prompts import grammars
from prompts.languages import PLAIN, Language, by_id, language_for
from validators import _trees
from validators.base import Splice, Verdict
from validators.syntax import SyntaxValidator
from validators.syntax_tree import BASELINES


def verdict(language: str, marked: str, text: str) -> Verdict:
    """The syntax verdict of `text` inserted at ║."""
    found = by_id(language)
    assert found is not None
    start = marked.index("║")
    document = marked.replace("║", "")
    return SyntaxValidator().check(Splice(document, start, start, text, language=found))


TS_CALL = "const x = foo(║\nconst y = 2;\n"
TS_OPEN_FN = "function f(a: number) {║\n\nfunction g() {\n  return 2;\n}\n"
TS_BROKEN_ABOVE = "function g( {\n}\nfunction f() {\n  ║\n}\n"
TS_BROKEN_BELOW = "function f() {\n  ║\n}\nfunction g( {\n}\n"
GO_OPEN_IF = "package main\n\nfunc f() int {\n\tif x {║\n}\n"
RUST_OPEN_FN = "fn f() -> i32 {\n    let v = vec![1, 2];║\n\nfn g() {}\n"
JAVA_METHOD = "class A {\n  int f(int a) {\n    ║\n  }\n}\n"
C_CALL = "int f(int a) {\n  int b = g(║\n}\nint h(void) { return 1; }\n"
CPP_AT_END = "#include <vector>\nint f() {\n  std::vector<int> v;║\n"
GO_HALF_ABOVE = ("package m\n\nfunc a() int {\n\tx := foo(\n\treturn x\n}\n\n"
                 "func b(n int) int {\n\t║\n}\n")
JAVA_HALF_ABOVE = ("class A {\n  int a() {\n    int x = foo(;\n    return x;\n  }\n"
                   "  int b(int n) {\n    ║\n  }\n}\n")
C_HALF_ABOVE = "int a(void) {\n  int x = foo(\n  return x;\n}\nint b(int n) {\n  ║\n}\n"
CPP_HALF_BELOW = "int b(int n) {\n  ║\n}\nint a(void) {\n  int x = foo(\n  return x;\n}\n"
TSX = "export const A = () => (\n  <div>║</div>\n);\n"


@pytest.mark.parametrize(
    ("language", "marked", "text", "reason"),
    [
        # A statement in a method body: fine; a dangling operator is the candidate's.
        ("java", JAVA_METHOD, "return a + 1;", ""),
        ("java", JAVA_METHOD, "return a +;", "adds a syntax error"),
        # Inside an open call, the candidate must close it.
        ("typescript", TS_CALL, "1, 2);", ""),
        ("typescript", TS_CALL, "1, 2", "leaves a syntax error at the cursor"),
        ("c", C_CALL, "a, 2);", ""),
        ("c", C_CALL, "a, 2", "leaves a syntax error at the cursor"),
        # A block whose closing brace is not written yet: a statement in it passes (the
        # document's MISSING "}" only moves down), one that is broken itself does not.
        ("typescript", TS_OPEN_FN, "\n  return a;", ""),
        ("typescript", TS_OPEN_FN, "\n  return a;\n}", ""),
        ("typescript", TS_OPEN_FN, "\n  return (a;", "adds a syntax error"),
        ("go", GO_OPEN_IF, "\n\t\treturn 1", ""),
        ("go", GO_OPEN_IF, "\n\t\treturn 1\n\t}", ""),
        ("go", GO_OPEN_IF, "\n\t\treturn (1", "adds a syntax error"),
        ("cpp", CPP_AT_END, "\n  return v.size();", ""),
        ("cpp", CPP_AT_END, "\n  return v.size(;", "adds a syntax error"),
        # Rust: the whole unclosed function is one ERROR node, grown by any candidate; a
        # broken call inside it is a new nested error.
        ("rust", RUST_OPEN_FN, "\n    v.len() as i32\n}", ""),
        ("rust", RUST_OPEN_FN, "\n    let n = v.len();", ""),
        ("rust", RUST_OPEN_FN, "\n    v.len( as i32", "adds a syntax error"),
        # The document's own error elsewhere (above: the candidate sits inside its ERROR
        # node; below: it only moves down) is not the candidate's.
        ("typescript", TS_BROKEN_ABOVE, "return 1;", ""),
        ("typescript", TS_BROKEN_ABOVE, "return (1;", "adds a syntax error"),
        ("typescript", TS_BROKEN_BELOW, "return 1;\n  let x = 2;", ""),
        ("typescript", TS_BROKEN_BELOW, "return 1 +;", "adds a syntax error"),
        # A half-typed call in another function, above or below, is not the candidate's.
        ("go", GO_HALF_ABOVE, "return n * 2", ""),
        ("go", GO_HALF_ABOVE, "return n * (2", "adds a syntax error"),
        ("java", JAVA_HALF_ABOVE, "return n * 2;", ""),
        ("java", JAVA_HALF_ABOVE, "return n * (2;", "adds a syntax error"),
        ("c", C_HALF_ABOVE, "return n * 2;", ""),
        ("c", C_HALF_ABOVE, "return n * (2;", "adds a syntax error"),
        ("cpp", CPP_HALF_BELOW, "return n * 2;", ""),
        ("cpp", CPP_HALF_BELOW, "return n * (2;", "adds a syntax error"),
        # JSX text and tags.
        ("typescriptreact", TSX, "<span>hi</span>", ""),
        ("typescriptreact", TSX, "<span>{hi</span>", "leaves a syntax error at the cursor"),
    ],
)
def test_verdicts_in_each_language(language: str, marked: str, text: str, reason: str) -> None:
    found = verdict(language, marked, text)
    assert (found.ok, found.reason, found.ran) == (not reason, reason, True), found


def test_the_verdict_names_the_line_and_the_language() -> None:
    found = verdict("go", GO_OPEN_IF, "\n\t\treturn (1")
    assert found.detail == 'line 5: missing ")" (Go)'


def test_an_unknown_language_is_not_checked_and_says_why() -> None:
    splice = Splice("IDENTIFICATION DIVISION.\n", 0, 0, "((((", "a.cbl",
                    language=language_for("cobol", "a.cbl"))
    assert splice.language is PLAIN
    assert SyntaxValidator().check(splice) == Verdict(
        "syntax", True, "not checked", "a.cbl is in no language with a syntax check", ran=False
    )


def test_a_grammar_that_does_not_load_is_not_checked() -> None:
    broken = Language("klingon", "Klingon", (".tlh",), ("tree_sitter_klingon", "language"))
    found = SyntaxValidator().check(Splice("x", 1, 1, "(", language=broken))
    assert (found.ok, found.ran, found.reason) == (True, False, "not checked")
    assert "tree_sitter_klingon" in found.detail


def test_an_oversized_document_is_not_checked() -> None:
    javascript = by_id("javascript")
    assert javascript is not None
    document = "var a=1;" * (grammars.MAX_PARSE_BYTES // 8 + 1)
    found = SyntaxValidator().check(Splice(document, 0, 0, "(", language=javascript))
    assert (found.ok, found.ran, found.reason) == (True, False, "not checked")
    assert "KB is over" in found.detail


def test_a_slow_parse_is_given_up_once_per_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_trees, "PARSE_SECONDS", -1.0)
    found = verdict("typescript", "const a = ║;\n" * 2000, "1")
    assert (found.ok, found.ran, found.reason) == (True, False, "not checked")
    assert "took longer" in found.detail
    # The next candidates of the same document do not wait for the parse again.
    monkeypatch.setattr(_trees, "_parse", None)
    assert verdict("typescript", "const a = ║;\n" * 2000, "2") == found


def test_the_document_is_parsed_once_for_every_candidate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    go = by_id("go")
    assert go is not None
    document = "package main\n\nfunc f() int {\n\t\n}\n" + "func g() {}\n" * 200
    cursor = document.index("\t\n") + 1
    parses: list[object | None] = []
    real = _trees._parse

    def counting(language: Language, source: bytes, old: object) -> object:
        parses.append(old)
        return real(language, source, old)  # type: ignore[arg-type]

    monkeypatch.setattr(_trees, "_parse", counting)
    texts = ["return 1", "return (1", "return 2", "x :="]
    verdicts = [SyntaxValidator().check(Splice(document, cursor, cursor, t, language=go))
                for t in texts]
    assert [v.ok for v in verdicts] == [True, False, True, False]
    # One parse of the document, then one incremental parse per candidate.
    assert len(parses) == 1 + len(texts) and parses[0] is None
    assert all(old is not None for old in parses[1:])
    # The next keystroke's document starts from this one's tree.
    typed = document[:cursor] + "r" + document[cursor:]
    SyntaxValidator().check(Splice(typed, cursor + 1, cursor + 1, "eturn 1", language=go))
    assert parses[len(texts) + 1] is not None


def test_incremental_trees_match_fresh_parses() -> None:
    rust = by_id("rust")
    assert rust is not None
    final = 'fn área(x: i32) -> String {\n    // 😀\n    if x > 1 { "big".into() }\n}\n'
    for k in range(0, len(final), 5):
        document = final[:k] + "\n\nfn g() {}\n"
        baseline = BASELINES.get(rust, document)
        fresh = grammars.parser_for(rust).parse(document.encode())
        assert str(baseline.tree.root_node) == str(fresh.root_node)
        start = len(document[:k].encode())
        for text in ("x", "}", "let y = (\n"):
            source, tree = _trees.parse_splice(baseline, start, start, text.encode())
            assert str(tree.root_node) == str(grammars.parser_for(rust).parse(source).root_node)


def test_a_megabyte_of_minified_javascript_is_checked_quickly() -> None:
    javascript = by_id("javascript")
    assert javascript is not None
    document = "function f(a){return a+1};var x=f(2);" * 26_000  # just under 1 MB
    cursor = len(document) // 2
    started = time.perf_counter()
    for text in ("var y=3;", "var y=(3;"):
        SyntaxValidator().check(Splice(document, cursor, cursor, text, language=javascript))
    assert time.perf_counter() - started < 5.0

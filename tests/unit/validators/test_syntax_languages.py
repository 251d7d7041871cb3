"""Which checks run on a document in another language than Python: the syntax gate alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prompts.languages import by_id, language_for
from validators.base import Splice, Verdict
from validators.embedded import EmbeddedTestsValidator
from validators.typecheck import MypyValidator

GO = by_id("go")
TEST_GO = "package main\n\nfunc add(a, b int) int {\n\t\n}\n"


def go_splice(root: Path) -> Splice:
    assert GO is not None
    cursor = TEST_GO.index("\t\n") + 1
    return Splice(TEST_GO, cursor, cursor, "return a + b", "add.go", str(root), language=GO)


def test_mypy_is_python_only_and_starts_no_daemon(tmp_path: Path) -> None:
    with MypyValidator() as mypy:
        mypy.prime(go_splice(tmp_path))
        assert mypy.check(go_splice(tmp_path)) == Verdict(
            "mypy", True, "Python only", "Go documents are not type-checked", ran=False
        )
        assert mypy.daemon_pids() == []


def test_embedded_tests_are_python_only(tmp_path: Path) -> None:
    (tmp_path / "add_test.go").write_text("package main\n", encoding="utf-8")
    tests = EmbeddedTestsValidator()
    try:
        verdicts = tests.check_all([go_splice(tmp_path)] * 2)
    finally:
        tests.close()
    assert verdicts == [Verdict("tests", True, "Python only",
                                "Go documents have no embedded tests run", ran=False)] * 2


def test_an_unknown_language_is_python_only_too(tmp_path: Path) -> None:
    splice = Splice("       IDENTIFICATION DIVISION.\n", 0, 0, "*> hi", "a.cbl", str(tmp_path),
                    language=language_for("cobol", "a.cbl"))
    with MypyValidator() as mypy:
        assert mypy.check(splice).reason == "Python only"


def test_a_huge_document_is_filtered_on_a_window_at_the_cursor(tmp_path: Path) -> None:
    from codegen.pipeline import FILTER_WINDOW, Pipeline
    from codegen.runtime.backends import ReplayBackend
    from codegen.types import CompletionRequest
    from tests.conftest import write_replay

    replay = write_replay(tmp_path / "r.jsonl", [("name}!`);", -0.1), ("return 1;\n}", -0.2)])
    pipeline = Pipeline(ReplayBackend(replay))
    small = "function greet(name) {\n  console.log(`Hello, ${║}`);\n}\n"
    padding = "var a=1;\n" * (FILTER_WINDOW // 4)

    def shown(marked: str) -> list[tuple[str, int, bool]]:
        cursor = marked.index("║")
        request = CompletionRequest(marked.replace("║", ""), cursor, "a.js", "javascript")
        result = pipeline.complete(request)
        return [(c.insert, c.end - cursor, c.verdicts[0].ran) for c in result.items]

    # The same suggestions, replacing the same text after the cursor, in a document
    # whose filters read a window around the cursor.
    expected = shown(small)
    assert expected and any(end > 0 for _, end, _ in expected)
    assert shown(padding + small + padding) == expected


def test_a_request_without_a_language_id_is_known_by_its_path() -> None:
    # `vetted complete file.ts` and batch records build requests without a languageId.
    from codegen.pipeline import language_of
    from codegen.types import CompletionRequest

    assert language_of(CompletionRequest("let a = 1;\n", 0, "src/a.ts")).id == "typescript"
    assert language_of(CompletionRequest("x = 1\n", 0)).id == "python"  # untitled.py


def test_a_huge_documents_prompt_is_rendered_from_a_window(qwen_tokenizer: Any) -> None:
    from types import SimpleNamespace

    from codegen.pipeline import Pipeline
    from codegen.types import CompletionRequest

    backend: Any = SimpleNamespace(tokenizer=qwen_tokenizer, description="stub")
    pipeline = Pipeline(backend, tests_in_prompt=False)
    lines = "".join(f"const v{i} = f({i}, 'x');\n" for i in range(30_000))  # 800 KB
    text = lines + "function g() {\n  return \n}\n" + lines
    request = CompletionRequest(text, len(lines) + 24, "big.ts")
    whole = pipeline.template.render(qwen_tokenizer, request.prefix, request.suffix,
                                     path="big.ts")
    prompt = pipeline.build_prompt(request)
    assert prompt is not None and prompt.ids == whole.ids
    # A keystroke later, still the same cut as from the whole document.
    typed = CompletionRequest(text[: request.offset] + "1" + text[request.offset :],
                              request.offset + 1, "big.ts")
    later = pipeline.build_prompt(typed)
    assert later is not None and later.ids == pipeline.template.render(
        qwen_tokenizer, typed.prefix, typed.suffix, path="big.ts").ids

"""The function's tests from other files in the prompt, as the model reads them."""

from __future__ import annotations

from pathlib import Path

from codegen.pipeline import Pipeline, sections_with_tests
from codegen.runtime.backends import HFTokenizer
from codegen.types import CompletionRequest, ContextFile
from prompts.templates import FILE_SEP

DOCUMENT = "def double(x: int) -> int:\n    return \n"
TESTS = "from calc import double\n\n\ndef test_double():\n    assert double(3) == 6\n"


class Tokenized:
    """A backend that only tokenizes: enough for `build_prompt`."""

    def __init__(self, tokenizer: HFTokenizer) -> None:
        self.tokenizer = tokenizer
        self.description = "tokenizer only"


OTHER = ContextFile("util.py", "def half(x: int) -> int:\n    return x // 2\n")


def request(root: Path, **kwargs: object) -> CompletionRequest:
    offset = DOCUMENT.index("return ") + len("return ")
    kwargs.setdefault("context_files", (OTHER,))
    return CompletionRequest(DOCUMENT, offset, path="calc.py", root=str(root), **kwargs)  # type: ignore[arg-type]


def test_workspace_tests_of_the_function_come_right_before_the_document(
    tmp_path: Path, qwen_tokenizer: HFTokenizer
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(TESTS)
    (tmp_path / "tests" / "test_other.py").write_text("def test_x():\n    assert 1 + 1 == 2\n")
    pipeline = Pipeline(Tokenized(qwen_tokenizer), tests_in_prompt=True)  # type: ignore[arg-type]
    prompt = pipeline.build_prompt(request(tmp_path))
    assert prompt is not None
    text = qwen_tokenizer.decode(list(prompt.ids))
    section = f"{FILE_SEP}tests/test_calc.py\ndef test_double():\n    assert double(3) == 6\n"
    assert section + f"{FILE_SEP}calc.py\n" in text
    assert "test_x" not in text  # a test of something else stays out
    assert sections_with_tests(prompt, request(tmp_path)) == ("tests/test_calc.py",)
    # Alone with the document they would switch the prompt to the repository format.
    alone = pipeline.build_prompt(request(tmp_path, context_files=()))
    assert alone is not None and FILE_SEP not in qwen_tokenizer.decode(list(alone.ids))


def test_a_batch_requests_asserts_go_in_and_the_switch_keeps_them_out(
    tmp_path: Path, qwen_tokenizer: HFTokenizer
) -> None:
    asked = request(tmp_path, tests=("assert double(2) == 4",))
    on = Pipeline(Tokenized(qwen_tokenizer), tests_in_prompt=True)  # type: ignore[arg-type]
    prompt = on.build_prompt(asked)
    assert prompt is not None
    assert f"{FILE_SEP}test_request.py\nassert double(2) == 4\n" in qwen_tokenizer.decode(
        list(prompt.ids)
    )
    off = Pipeline(Tokenized(qwen_tokenizer), tests_in_prompt=False)  # type: ignore[arg-type]
    plain = off.build_prompt(asked)
    assert plain is not None and "double(2)" not in qwen_tokenizer.decode(list(plain.ids))
    assert "test_request.py" not in qwen_tokenizer.decode(list(plain.ids))

"""Golden post-processing cases: recorded instruct-model output through the whole pipeline.

A case in a language folder names its LSP ``language`` and a ``path``; the request carries
both, and no shown completion may add a syntax error to a document that had none (Python
checked with `ast`, every other language with its tree-sitter grammar).
"""

from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from codegen.pipeline import Pipeline
from codegen.runtime.backends import ReplayBackend
from codegen.types import CompletionRequest
from prompts.grammars import parse
from prompts.languages import PYTHON, Language, language_for

GOLDEN = Path(__file__).parents[1] / "golden" / "postprocess"
CURSOR = "║"
CASES = sorted(GOLDEN.rglob("*.toml"))


def load(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        return tomllib.load(file)


def parses(source: str, language: Language = PYTHON) -> bool:
    if language is not PYTHON:
        return not parse(language, source).root_node.has_error
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    "folder", ["javascript", "typescript", "go", "rust", "java", ("c", "cpp")]
)
def test_every_language_has_its_cases(folder: str | tuple[str, ...]) -> None:
    folders = (folder,) if isinstance(folder, str) else folder
    assert sum(len(list((GOLDEN / name).glob("*.toml"))) for name in folders) >= 8


@pytest.mark.parametrize("path", CASES, ids=[load(p)["description"] for p in CASES])
def test_golden(path: Path, tmp_path: Path) -> None:
    case = load(path)
    marked: str = case["document"]
    assert marked.count(CURSOR) == 1, "exactly one cursor marker"
    offset = marked.index(CURSOR)
    document = marked.replace(CURSOR, "")
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"text": case["raw"], "logprob": -1.0}) + "\n", "utf-8")
    request = CompletionRequest(document, offset, path=case.get("path", "untitled.py"),
                                language=case.get("language", "python"))
    language = language_for(request.language, request.path)

    result = Pipeline(ReplayBackend(replay)).complete(request)

    expected = case["expected"]
    if expected.get("discarded"):
        assert result.items == ()
        return
    assert result.items, f"discarded: {[c.verdicts for c in result.discarded]}"
    best = result.items[0]
    assert best.insert == expected["shown"]
    replaced = document[offset : best.end]
    assert replaced == expected.get("replaces", "")
    spliced = document[:offset] + best.insert + document[best.end :]
    assert parses(spliced, language) or not parses(document, language)

"""Golden post-processing cases: recorded instruct-model output through the whole pipeline."""

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

GOLDEN = Path(__file__).parents[1] / "golden" / "postprocess"
CURSOR = "║"
CASES = sorted(GOLDEN.rglob("*.toml"))


def load(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        return tomllib.load(file)


def parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[load(p)["description"] for p in CASES])
def test_golden(path: Path, tmp_path: Path) -> None:
    case = load(path)
    marked: str = case["document"]
    assert marked.count(CURSOR) == 1, "exactly one cursor marker"
    offset = marked.index(CURSOR)
    document = marked.replace(CURSOR, "")
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"text": case["raw"], "logprob": -1.0}) + "\n", "utf-8")

    result = Pipeline(ReplayBackend(replay)).complete(CompletionRequest(document, offset))

    expected = case["expected"]
    if expected.get("discarded"):
        assert result.items == ()
        return
    assert result.items, f"discarded: {[c.verdicts for c in result.discarded]}"
    best = result.items[0]
    assert best.insert == expected["shown"]
    spliced = document[:offset] + best.insert + document[best.end :]
    assert parses(spliced) or not parses(document)

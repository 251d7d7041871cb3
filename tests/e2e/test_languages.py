"""Inline completions in other languages than Python, over stdio, as editors send them.

Each server replays two outputs: one that is right in the document's language and one that
breaks its syntax. Only the right one is shown, its verdicts say the syntax check ran and
the Python-only checks did not. A language without a grammar gets the suggestion with the
syntax check marked as not run, and a 5 MB minified file is answered quickly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import write_replay
from tests.e2e.conftest import CLIENTS, SERVER, plain, start_session

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent.parent / "workspaces" / "languages"


@dataclass(frozen=True)
class Case:
    """A document, its cursor, and what the model answers there."""

    name: str
    language_id: str
    line: int
    character: int
    right: str
    broken: str = ""


CASES = {
    "typescript": Case("shapes.ts", "typescript", 6, 2,
                       "return Math.hypot(a.x - b.x, a.y - b.y);",
                       "return Math.hypot(a.x - b.x, a.y - b.y;"),
    "go": Case("stack.go", "go", 7, 1, "s.items = append(s.items, v)",
               "s.items = append(s.items, v"),
    "rust": Case("stats.rs", "rust", 1, 4, "values.iter().sum::<f64>() / values.len() as f64",
                 "values.iter().sum::<f64>( / values.len() as f64"),
    "cobol": Case("hello.cbl", "cobol", 3, 11, "MOVE 1 TO WS-COUNT."),
}


@pytest_lsp.fixture(
    params=[(client, case) for client in CLIENTS for case in CASES],
    ids=[f"{client}-{case}" for client in CLIENTS for case in CASES],
    config=SERVER,
)
async def language_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path: Path
) -> Any:
    """A session whose model answers the case's broken text first, then its right one."""
    client_name, case_name = request.param
    case = CASES[case_name]
    outputs = [(case.broken, -0.1)] if case.broken else []
    replay = write_replay(tmp_path / "replay.jsonl", [*outputs, (case.right, -0.2)])
    await start_session(lsp_client, client_name, {"model": f"replay:{replay}"})
    lsp_client.case = case  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def open_file(client: LanguageClient, uri: str, language_id: str, text: str) -> None:
    """Send didOpen with the editor's languageId."""
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=1,
                                             text=text)))


async def complete(client: LanguageClient, uri: str, line: int, character: int,
                   ) -> types.InlineCompletionList:
    """An invoked inline completion at a position."""
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
    ))
    assert isinstance(result, types.InlineCompletionList)
    return result


def verdicts_of(item: types.InlineCompletionItem) -> dict[str, Any]:
    """The verdicts an item carries in its accept command."""
    assert item.command is not None
    verdicts: dict[str, Any] = plain(item.command.arguments)[0]["verdicts"]
    return verdicts


async def test_each_language_gets_only_its_vetted_completion(
    language_client: LanguageClient,
) -> None:
    case: Case = language_client.case  # type: ignore[attr-defined]
    path = FILES / case.name
    open_file(language_client, path.as_uri(), case.language_id,
              path.read_text(encoding="utf-8"))
    result = await complete(language_client, path.as_uri(), case.line, case.character)
    cursor = types.Position(case.line, case.character)
    assert [(item.insert_text, item.range) for item in result.items] == [
        (case.right, types.Range(cursor, cursor))
    ]
    name = {"typescript": "TypeScript", "go": "Go", "rust": "Rust"}.get(case.language_id,
                                                                         "plain text")
    syntax = {"ok": True, "ran": True} if case.broken else {
        # A language without a grammar: no syntax check, and the verdict says why.
        "ok": True, "ran": False, "reason": "not checked",
        "detail": f"{case.name} is in no language with a syntax check",
    }
    assert verdicts_of(result.items[0]) == {
        "syntax": syntax,
        "mypy": {"ok": True, "ran": False, "reason": "Python only",
                 "detail": f"{name} documents are not type-checked"},
        "tests": {"ok": True, "ran": False, "reason": "Python only",
                  "detail": f"{name} documents have no embedded tests run"},
    }


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def minified_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path: Path
) -> Any:
    """A session whose model answers one JavaScript statement."""
    replay = write_replay(tmp_path / "replay.jsonl", [("var z=f(3);", -0.1)])
    await start_session(lsp_client, request.param, {"model": f"replay:{replay}"})
    yield
    await lsp_client.shutdown_session()


async def test_a_five_megabyte_minified_file_is_answered_quickly(
    minified_client: LanguageClient, tmp_path: Path,
) -> None:
    text = "function f(a){return a+1};var x=f(2);" * 135_000  # 5 MB on one line
    uri = (tmp_path / "bundle.min.js").as_uri()
    open_file(minified_client, uri, "javascript", text)
    middle = text.index(";var", len(text) // 2) + 1
    started = time.perf_counter()
    result = await complete(minified_client, uri, 0, middle)
    assert time.perf_counter() - started < 10.0
    assert [item.insert_text for item in result.items] == ["var z=f(3);"]
    syntax = verdicts_of(result.items[0])["syntax"]
    assert (syntax["ran"], syntax["reason"]) == (False, "not checked")
    assert "KB is over the syntax check's 1000 KB" in syntax["detail"]
    # The next keystroke and request are answered too.
    where = types.Position(0, middle)
    minified_client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(where, where), text=" ")],
    ))
    started = time.perf_counter()
    result = await complete(minified_client, uri, 0, middle + 1)
    assert time.perf_counter() - started < 10.0
    assert [item.insert_text for item in result.items] == ["var z=f(3);"]

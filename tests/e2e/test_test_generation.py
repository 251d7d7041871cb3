""""Generate unit tests" over stdio: the code action, the command, the written file, cancel."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import write_replay
from tests.e2e.conftest import (
    CLIENTS,
    SERVER,
    open_document,
    plain,
    send_raw_request,
    wait_for_state,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("needs_sandbox")]

PROJECT = Path(__file__).parents[1] / "workspaces" / "testgen"
PRICING = (PROJECT / "shop" / "pricing.py").read_text(encoding="utf-8")
EXISTING_TESTS = (PROJECT / "tests" / "test_pricing.py").read_text(encoding="utf-8")

DISCOUNT_ANSWER = '''```python
import os
import random

import pytest

from shop.pricing import discount


def test_rejects_negative_percent():
    with pytest.raises(ValueError):
        discount(10.0, -5)


def test_rejects_more_than_100_percent():
    with pytest.raises(ValueError):
        discount(10.0, 150)


def test_zero_percent_keeps_the_price():
    assert discount(80.0, 0) == 80.0


def test_half_off():
    assert discount(10.0, 50) == 4.0


def test_passes_only_once():
    marker = "/tmp/vetted-seen"
    first = not os.path.exists(marker)
    open(marker, "w").close()
    assert first


def test_zero_percent_again():
    assert discount(80.0, 0) == 80.0
```'''
"""Recorded answer: two tests that add coverage, one that repeats a branch, one wrong
expectation, one flaky test, and one repeat of another test under a new name."""

BULK_ANSWER = '''```python
from shop.pricing import bulk_price


def test_ten_items_cost_ten_percent_less():
    assert bulk_price(10, 2.0) == 18.0


def test_twenty_items():
    assert bulk_price(20, 1.0) == 18.0
```'''


class Editor:
    """What an editor does with `workspace/applyEdit`: create and change files on disk."""

    def __init__(self) -> None:
        self.edits: list[types.ApplyWorkspaceEditParams] = []

    def apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.edits.append(params)
        for change in params.edit.document_changes or []:
            if isinstance(change, types.CreateFile):
                path = _path(change.uri)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            elif isinstance(change, types.TextDocumentEdit):
                path = _path(change.text_document.uri)
                text = path.read_text(encoding="utf-8")
                # As in LSP, every range refers to the document before any edit is made.
                spans = []
                for edit in change.edits:
                    assert isinstance(edit, types.TextEdit)
                    spans.append((_offset(text, edit.range.start), _offset(text, edit.range.end),
                                  edit.new_text))
                for start, end, new_text in sorted(spans, reverse=True):
                    text = text[:start] + new_text + text[end:]
                path.write_text(text, encoding="utf-8")
        return types.ApplyWorkspaceEditResult(applied=True)


def _path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def _offset(text: str, position: types.Position) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(line) for line in lines[: position.line]) + position.character


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the shop project, so the tests write into their own files."""
    return Path(shutil.copytree(PROJECT, tmp_path / "shop-project"))


async def start(client: LanguageClient, name: str, root: Path, options: dict[str, Any]) -> Editor:
    editor = Editor()

    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.apply(params)

    client.feature(types.WORKSPACE_APPLY_EDIT)(apply_edit)
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(name),
        initialization_options=options,
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="shop")],
    ))
    await wait_for_state(client, "ready", "failed")
    uri = (root / "shop" / "pricing.py").as_uri()
    open_document(client, uri, PRICING)
    return editor


def line_of(text: str) -> int:
    return PRICING.splitlines().index(text)


async def generate(client: LanguageClient, root: Path, line: int) -> dict[str, Any]:
    uri = (root / "shop" / "pricing.py").as_uri()
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="vetted.generateTests",
        arguments=[uri, {"line": line, "character": 4}],
    ))
    report: dict[str, Any] = plain(result)
    return report


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def discount_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, project: Path, tmp_path: Path
) -> Any:
    replay = write_replay(tmp_path / "discount.jsonl", [(DISCOUNT_ANSWER, None)])
    lsp_client.editor = await start(  # type: ignore[attr-defined]
        lsp_client, request.param, project,
        {"model": f"replay:{replay}", "testGeneration": {"rounds": 2, "samples": 1}},
    )
    yield
    await lsp_client.shutdown_session()


async def test_the_code_action_is_offered_in_a_function_and_not_elsewhere(
    discount_client: LanguageClient, project: Path
) -> None:
    uri = (project / "shop" / "pricing.py").as_uri()

    async def actions(line: int) -> list[dict[str, Any]]:
        # Read as JSON: the client's typed reading takes a CodeAction carrying a command
        # for a bare Command (lsprotocol's union hook), which VS Code and Neovim do not.
        found = await send_raw_request(discount_client, types.TEXT_DOCUMENT_CODE_ACTION, {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": line, "character": 4},
                      "end": {"line": line, "character": 4}},
            "context": {"diagnostics": []},
        })
        result: list[dict[str, Any]] = plain(found) or []
        return result

    [action] = await actions(line_of("    if percent == 0:"))
    assert action["title"] == "Generate unit tests for discount"
    assert action["kind"] == "source"
    assert action["command"]["command"] == "vetted.generateTests"
    assert action["command"]["arguments"] == [uri, {"line": 11, "character": 4}]
    assert await actions(line_of('"""Prices and discounts."""')) == []



async def test_only_tests_that_pass_twice_and_add_coverage_are_written(
    discount_client: LanguageClient, project: Path
) -> None:
    report = await generate(discount_client, project, line_of("    if percent == 0:"))
    assert [t["name"] for t in report["delivered"]] == [
        "test_rejects_negative_percent", "test_zero_percent_keeps_the_price",
    ]
    reasons = {r["name"]: r["reason"].split(":")[0] for r in report["rejected"]}
    assert reasons == {
        "test_rejects_more_than_100_percent": "adds no coverage",
        "test_half_off": "fails",
        "test_passes_only_once": "flaky",
        "test_zero_percent_again": "repeats another test",
    }
    assert report["coverageBefore"]["percent"] < 100 == report["coverageAfter"]["percent"]
    assert report["testFile"] == "tests/test_pricing.py" and report["applied"] is True
    written = (project / "tests" / "test_pricing.py").read_text(encoding="utf-8")
    # The import joins the file's own on top (an editor's edit, not an append).
    assert written.startswith("import pytest\n" + EXISTING_TESTS)
    added = written[len("import pytest\n" + EXISTING_TESTS):]
    assert "import" not in added and "def test_rejects_negative_percent():" in added
    assert "test_half_off" not in added and "test_passes_only_once" not in added
    # What the user gets is a test file that passes.
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_pricing.py"], cwd=project, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


@pytest_lsp.fixture(params=["neovim"], config=SERVER)
async def bulk_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, project: Path, tmp_path: Path
) -> Any:
    replay = write_replay(tmp_path / "bulk.jsonl", [(BULK_ANSWER, None)])
    await start(lsp_client, request.param, project,
                {"model": f"replay:{replay}", "testGeneration": {"rounds": 1, "samples": 1}})
    yield
    await lsp_client.shutdown_session()


async def test_a_failure_the_docstring_agrees_with_is_reported_as_a_bug(
    bulk_client: LanguageClient, project: Path
) -> None:
    report = await generate(bulk_client, project, line_of("    total = quantity * unit"))
    assert [b["test"] for b in report["bugs"]] == ["test_ten_items_cost_ten_percent_less"]
    assert report["bugs"][0]["example"] == "bulk_price(10, 2.0) == 18.0"
    assert report["failingExamples"] == ["bulk_price(10, 2.0) == 18.0"]
    assert [t["name"] for t in report["delivered"]] == ["test_twenty_items"]
    written = (project / "tests" / "test_pricing.py").read_text(encoding="utf-8")
    assert "test_ten_items_cost_ten_percent_less" not in written


async def test_cancel_midway_leaves_the_workspace_untouched(project: Path) -> None:
    client = await ClientServerConfig(server_command=SERVER.server_command).start()
    assert isinstance(client, LanguageClient)
    try:
        editor = await start(client, "visual_studio_code", project, {
            "model": "random:tiny", "device": "cpu",
            "testGeneration": {"maxNewTokens": 4096, "samples": 2, "temperature": 1.0},
        })
        pending = asyncio.ensure_future(client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(
                command="vetted.generateTests",
                arguments=[(project / "shop" / "pricing.py").as_uri(),
                           {"line": line_of("    if percent == 0:"), "character": 4}],
            ),
            msg_id="tests",
        ))
        deadline = time.monotonic() + 60
        while not any("asking the model" in str(getattr(report, "message", ""))
                      for reports in client.progress_reports.values() for report in reports):
            assert time.monotonic() < deadline, "generation never started"
            await asyncio.sleep(0.1)
        client.cancel_request(types.CancelParams(id="tests"))
        with pytest.raises(JsonRpcException):
            await asyncio.wait_for(pending, timeout=10)
        await asyncio.sleep(1.0)
        assert editor.edits == []
        tests = project / "tests"
        assert sorted(p.name for p in tests.iterdir()) == ["test_pricing.py"]
        assert (tests / "test_pricing.py").read_text(encoding="utf-8") == EXISTING_TESTS
        await client.shutdown_session()
    finally:
        await client.stop()


def test_the_command_line_writes_into_the_project_test_file(project: Path, tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "discount.jsonl", [(DISCOUNT_ANSWER, None)])
    run = subprocess.run(
        [sys.executable, "-m", "lsp_server", "tests", "shop/pricing.py::discount",
         "--model", f"replay:{replay}", "--rounds", "1", "--samples", "1", "--json"],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [t["name"] for t in report["delivered"]] == [
        "test_rejects_negative_percent", "test_zero_percent_keeps_the_price",
    ]
    assert report["written"] == str(project / "tests" / "test_pricing.py")
    written = (project / "tests" / "test_pricing.py").read_text(encoding="utf-8")
    assert written == "import pytest\n" + EXISTING_TESTS + (
        "\n\n"
        "def test_rejects_negative_percent():\n"
        "    with pytest.raises(ValueError):\n"
        "        discount(10.0, -5)\n"
        "\n\n"
        "def test_zero_percent_keeps_the_price():\n"
        "    assert discount(80.0, 0) == 80.0\n"
    )


def _vetted_tests(project: Path, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server", "tests", target, *args],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
    )


def _discount_args(tmp_path: Path) -> list[str]:
    replay = write_replay(tmp_path / "discount.jsonl", [(DISCOUNT_ANSWER, None)])
    return ["--model", f"replay:{replay}", "--rounds", "1", "--samples", "1", "--json"]


def test_written_imports_join_the_file_s_own_on_top(project: Path, tmp_path: Path) -> None:
    run = _vetted_tests(project, "shop/pricing.py::discount", *_discount_args(tmp_path))
    assert run.returncode == 0, run.stderr
    test_file = project / "tests" / "test_pricing.py"
    written = test_file.read_text(encoding="utf-8")
    assert written.startswith("import pytest\nfrom shop.pricing import discount\n\n\n"
                              "def test_quarter_off():")
    assert written.count("import pytest") == 1
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select",
                           "E,F,I", str(test_file)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert lint.returncode == 0, lint.stdout


def test_a_rerun_runs_the_written_tests_with_their_imports_and_writes_nothing_new(
    project: Path, tmp_path: Path
) -> None:
    args = _discount_args(tmp_path)
    first = _vetted_tests(project, "shop/pricing.py::discount", *args)
    assert first.returncode == 0, first.stderr
    test_file = project / "tests" / "test_pricing.py"
    after_first = test_file.read_text(encoding="utf-8")
    second = _vetted_tests(project, "shop/pricing.py::discount", *args)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    # `test_rejects_negative_percent` uses `pytest.raises`: run with the file's imports it
    # passes, so the coverage before is already complete...
    assert report["coverageBefore"]["percent"] == 100
    # ...and the same tests, offered again, are repeats of the file's own.
    assert report["delivered"] == [] and report["written"] == ""
    reasons = {r["name"]: r["reason"] for r in report["rejected"]}
    assert reasons["test_rejects_negative_percent"] == "repeats an existing test"
    assert reasons["test_zero_percent_keeps_the_price"] == "repeats an existing test"
    assert test_file.read_text(encoding="utf-8") == after_first


def test_a_module_that_does_not_parse_is_one_line_and_status_2(project: Path) -> None:
    broken = project / "shop" / "broken.py"
    broken.write_text("def total(xs):\n    return sum(xs\n\n\ndef other():\n    pass\n",
                      encoding="utf-8")
    run = _vetted_tests(project, "shop/broken.py::total", "--model", "replay:/nonexistent")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith("vetted: shop/broken.py:2: ") and "never closed" in line

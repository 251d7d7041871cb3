"""Workspace context, metrics, status and explain over stdio, as a user or an operator sees them."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.e2e.conftest import SERVER, open_document, plain, status, wait_for_state

pytestmark = pytest.mark.e2e

SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
HELPERS = 'def price_with_tax(net: float, rate: float) -> float:\n    """Gross price."""\n' \
    "    return net * (1 + rate)\n"
SETTINGS = f"DEBUG = True\nGITHUB_TOKEN = '{SECRET}'\n"
MAIN = "from shop.helpers import price_with_tax\n\n\ndef total(items):\n    return "
TESTS = "from shop.main import total\n\n\ndef test_total_adds_tax():\n" \
    "    assert total([10.0]) == 11.0\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop-project"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (root / "shop" / "helpers.py").write_text(HELPERS, encoding="utf-8")
    (root / "shop" / "settings.py").write_text(SETTINGS, encoding="utf-8")
    (root / "shop" / "main.py").write_text(MAIN, encoding="utf-8")
    (root / "tests").mkdir()
    (root / "tests" / "test_main.py").write_text(TESTS, encoding="utf-8")
    return root


@pytest_lsp.fixture(params=["neovim"], config=SERVER)
async def client(lsp_client: LanguageClient, project: Path) -> Any:
    port = free_port()
    lsp_client.port = port  # type: ignore[attr-defined]
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("neovim"),
        initialization_options={
            "model": "random:tiny", "device": "cpu", "maxNewTokens": 4, "alternatives": 1,
            "observability": {"port": port, "logPrompts": True},
            "validators": {"mypy": False, "tests": False},
            "suggestions": {"eagerness": "eager"},  # the random model is never confident
        },
        root_uri=project.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="shop")],
    ))
    await wait_for_state(lsp_client, "ready")
    deadline = time.monotonic() + 30
    while (await status(lsp_client))["indexedFiles"] < 5:
        assert time.monotonic() < deadline, "the workspace was not indexed"
        await asyncio.sleep(0.1)
    yield
    await lsp_client.shutdown_session()


async def complete(client: LanguageClient, project: Path) -> None:
    uri = (project / "shop" / "main.py").as_uri()
    open_document(client, (project / "shop" / "settings.py").as_uri(), SETTINGS)
    open_document(client, uri, MAIN)
    await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=4, character=11),
    ))


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return str(response.read().decode())


async def test_the_prompt_shows_the_imported_definition_and_never_a_secret(
    client: LanguageClient, project: Path
) -> None:
    await complete(client, project)
    explained = plain(await client.protocol.send_request_async("vetted/explain", {}))
    prompt = explained["prompt"]
    assert "def price_with_tax(net: float, rate: float) -> float:" in prompt
    assert "DEBUG = True" in prompt  # the open settings file is context...
    assert SECRET not in prompt and "GITHUB_TOKEN" not in prompt  # ...without its secret
    assert "shop/helpers.py" in explained["contextFiles"]


async def test_the_prompt_shows_the_tests_of_the_function_being_written(
    client: LanguageClient, project: Path
) -> None:
    await complete(client, project)
    explained = plain(await client.protocol.send_request_async("vetted/explain", {}))
    assert explained["promptTests"] == ["tests/test_main.py"]
    section = "<|file_sep|>tests/test_main.py\ndef test_total_adds_tax():\n" \
        "    assert total([10.0]) == 11.0\n<|file_sep|>shop/main.py\n"
    assert section in explained["prompt"]
    assert explained["request"]["path"] == "shop/main.py"
    assert set(explained["latencyMs"]) == {"prompt", "prefill", "firstToken", "generate",
                                           "postprocess", "validate"}


async def test_metrics_status_and_explain_for_an_operator(
    client: LanguageClient, project: Path
) -> None:
    port = client.port  # type: ignore[attr-defined]
    await complete(client, project)
    metrics = get(port, "/metrics")
    outcomes = [line for line in metrics.splitlines() if line.startswith("vetted_requests_total")]
    assert outcomes and any('outcome="' in line for line in outcomes)
    assert "vetted_stage_seconds_bucket" in metrics and "vetted_generated_tokens_total" in metrics
    assert 'vetted_answers_total{source="model"} 1.0' in metrics
    assert "# TYPE vetted_verdicts_total counter" in metrics
    # The command line finds the server through the port it noted.
    shown = subprocess.run([sys.executable, "-m", "lsp_server", "status", "--port", str(port)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"vetted on port {port}: ready, model random:tiny on cpu")
    assert "indexed files: 5" in shown.stdout
    explained = subprocess.run([sys.executable, "-m", "lsp_server", "explain"],
                               capture_output=True, text=True, timeout=60, check=False)
    assert explained.returncode == 0, explained.stderr
    report = json.loads(explained.stdout)
    assert report["request"]["path"] == "shop/main.py"
    assert "def price_with_tax" in report["prompt"]

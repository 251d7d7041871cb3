"""The server's own overhead per inline request, over stdio (`bench.latency --section server`).

The real server (`vetted serve`, the same model), invoked inline requests at several
positions of a real file; the round trip minus the model's and the validators' time as the
server reports them in ``vetted/status``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bench.stats import Series, ms

REPO_ROOT = Path(__file__).resolve().parents[1]


def server_section(model_spec: str, positions: int, keystroke_file: Path) -> list[str]:
    """Section 5: the real server over stdio; round trip minus model and validators."""
    return asyncio.run(_server_overhead(model_spec, positions, keystroke_file))


async def _server_overhead(model_spec: str, positions: int, keystroke_file: Path) -> list[str]:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("latency-bench", "1")
    await client.start_io(sys.executable, "-m", "lsp_server", "serve")
    root = REPO_ROOT / "tests" / "workspaces" / "demo"
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"model": model_spec, "device": "cpu", "alternatives": 1,
                                "maxNewTokens": 16},
        root_uri=root.as_uri(),
    ))
    client.initialized(types.InitializedParams())
    while True:
        state = (await client.protocol.send_request_async("vetted/status", {})).state
        if state in ("ready", "failed"):
            break
        await asyncio.sleep(0.2)
    text = keystroke_file.read_text(encoding="utf-8")
    uri = (root / "typed.py").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    overhead, outside_model, rtt = Series(), Series(), Series()
    lines = text.splitlines()
    for number in range(positions + 1):
        line = 40 + 7 * number
        character = len(lines[line]) - len(lines[line].lstrip())
        started = time.perf_counter()
        await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character)))
        took = time.perf_counter() - started
        last = (await client.protocol.send_request_async("vetted/status", {})).lastRequest
        if number == 0:
            continue  # warms the validators
        timings = last.timingsMs
        rtt.add(took)
        outside_model.add(took - timings.generate / 1000)
        overhead.add(took - (timings.generate + timings.validate) / 1000)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()  # type: ignore[no-untyped-call]
    return [
        f"### Server overhead: {positions} invoked inline requests over stdio, 1 alternative",
        "",
        "| | p50 ms | p90 ms |",
        "|---|---:|---:|",
        f"| round trip | {ms(rtt.p50)} | {ms(rtt.p90)} |",
        f"| outside the model (validators included) | {outside_model.p50 * 1000:.1f} | "
        f"{outside_model.p90 * 1000:.1f} |",
        f"| outside the model and the validators (target ≤ 5) | {overhead.p50 * 1000:.1f} | "
        f"{overhead.p90 * 1000:.1f} |",
        "",
    ]



"""Accept → next ghost text: how long after an accept the following suggestion appears.

The real server over stdio (`vetted serve`), the user's settings but for the model and
device, this project's own code as documents (`code_documents`: two statements of a
function body taken out, the cursor at the end of the one before them). Per case: an
automatic inline request; the user accepts the top suggestion (didChange with it inserted,
then its `vetted.accepted` command, as an editor does on Tab); the editor asks again at the
cursor after it, and that request is timed. Three sessions on the same cases, each a fresh
server:

* ``off``: `suggestions.prefetch` off, the baseline: the follow-up runs the model;
* ``read``: prefetch on, the user accepts once the prefetch is done (the time that takes
  is reported too: how long a suggestion must be on screen for it);
* ``at once``: prefetch on, the user accepts the moment the suggestion appears: the
  follow-up waits for the prefetch already running.

    .venv/bin/python -m bench.accept_latency --model pypi:qwen2.5-coder-0.5b-instruct --cases 10

Run it on an otherwise idle machine: it reports times.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.fim_cases import REPO_ROOT
from bench.stats import Series, ms

MODES = ("off", "read", "at once")


@dataclass
class Outcome:
    """One mode's measurements over the cases."""

    follow: Series = field(default_factory=Series)
    """Accept → follow-up answer."""
    ready: Series = field(default_factory=Series)
    """First answer → prefetch finished (``read`` only)."""
    first: Series = field(default_factory=Series)
    """The first request (for scale)."""
    sources: dict[str, int] = field(default_factory=dict)
    nothing_shown: int = 0
    follow_shown: int = 0


def code_documents(count: int, root: Path = REPO_ROOT) -> list[str]:
    """`count` places in this project's own code where the user writes two statements.

    In a function body with at least four one-line statements in a row at one
    indentation, the second and third are taken out and the cursor put at the end of the
    first: the first suggestion is the next statement (code follows below, so one
    statement), and after its accept the follow-up is the one after it. Every seventh such
    place of the sorted files, so the cases spread over the code.
    """
    places: list[str] = []
    for path in sorted(root.glob("[clpv]*/**/*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            for i in range(1, len(body) - 2):
                run = body[i - 1 : i + 3]
                if all(isinstance(s, ast.Assign | ast.Expr | ast.AugAssign | ast.AnnAssign)
                       and s.lineno == s.end_lineno and s.col_offset == run[0].col_offset
                       for s in run):
                    first = run[0].lineno - 1
                    kept = lines[: first + 1] + lines[first + 3 :]
                    cursor = len("\n".join(lines[: first + 1]))
                    places.append("\n".join(kept)[:cursor] + CURSOR + "\n".join(kept)[cursor:])
    return places[::7][:count]


CURSOR = "\x00"
"""Marks the cursor in a case's text (removed before it is sent)."""


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines) - 1, utf16(lines[-1])


async def status(client: Any) -> Any:
    return await client.protocol.send_request_async("vetted/status", {})


async def session(model: str, mode: str, documents: list[str], root: Path,
                  eagerness: str, max_new_tokens: int) -> Outcome:
    """One fresh server, every document once in `mode`."""
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("accept-latency-bench", "1")
    await client.start_io(sys.executable, "-m", "lsp_server", "serve")
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"model": model, "device": "cpu",
                                "maxNewTokens": max_new_tokens,
                                "suggestions": {"prefetch": mode != "off",
                                                "eagerness": eagerness}},
        root_uri=root.as_uri()))
    client.initialized(types.InitializedParams())
    while (await status(client)).state not in ("ready", "failed"):
        await asyncio.sleep(0.2)
    loaded = await status(client)
    if loaded.state == "failed":
        raise SystemExit(f"accept_latency: the model failed to load: {loaded.error}")
    outcome = Outcome()

    async def inline(uri: str, position: tuple[int, int]) -> list[Any]:
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic),
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(*position)))
        if isinstance(result, types.InlineCompletionList):
            return list(result.items)
        return list(result or [])

    for index, marked in enumerate(documents):
        offset = marked.index(CURSOR)
        text = marked.replace(CURSOR, "")
        uri = (root / f"case_{index}.py").as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        if index:  # one document open at a time, as when editing one file
            client.text_document_did_close(types.DidCloseTextDocumentParams(
                types.TextDocumentIdentifier((root / f"case_{index - 1}.py").as_uri())))
        started = time.perf_counter()
        items = await inline(uri, end_position(text[:offset]))
        shown_at = time.perf_counter()
        outcome.first.add(shown_at - started)
        if not items:
            outcome.nothing_shown += 1
            continue
        item = items[0]
        if mode == "read":
            begun = (await status(client)).prefetch.started
            while (await status(client)).prefetch.running:
                await asyncio.sleep(0.01)
            assert begun >= 1
            outcome.ready.add(time.perf_counter() - shown_at)
        accepted = text[:offset] + str(item.insert_text) + text[offset:]  # pure insertion
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=accepted)]))
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=item.command.command, arguments=item.command.arguments))
        clicked = time.perf_counter()
        follow = await inline(uri, end_position(text[:offset] + str(item.insert_text)))
        outcome.follow.add(time.perf_counter() - clicked)
        outcome.follow_shown += bool(follow)
        source = (await status(client)).lastRequest.source
        outcome.sources[source] = outcome.sources.get(source, 0) + 1
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()  # type: ignore[no-untyped-call]
    return outcome


def table(outcomes: dict[str, Outcome]) -> list[str]:
    base = outcomes["off"].follow.p50
    lines = ["| mode | accept → next suggestion p50 (ms) | p90 | vs off | answered by | "
             "follow-up shown | suggestion on screen before prefetch ready p50 (ms) |",
             "|---|---|---|---|---|---|---|"]
    for mode, outcome in outcomes.items():
        ratio = outcome.follow.p50 / base if base else float("nan")
        sources = ", ".join(f"{k} {v}" for k, v in sorted(outcome.sources.items()))
        ready = ms(outcome.ready.p50) if outcome.ready.values else "–"
        lines.append(f"| {mode} | {ms(outcome.follow.p50)} | {ms(outcome.follow.p90)} | "
                     f"{ratio:.3f}× | {sources} | {outcome.follow_shown}/"
                     f"{len(outcome.follow.values)} | {ready} |")
    first = [o.first.p50 for o in outcomes.values()]
    lines.append("")
    lines.append(f"First request p50 per session (ms): {', '.join(ms(f) for f in first)}; "
                 f"nothing shown: {', '.join(str(o.nothing_shown) for o in outcomes.values())}.")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="pypi:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--eagerness", default="auto", choices=("auto", "eager", "subtle"))
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    documents = code_documents(args.cases)
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in MODES:
            root = Path(folder) / mode.replace(" ", "_")
            root.mkdir()
            outcomes[mode] = asyncio.run(session(args.model, mode, documents, root,
                                                  args.eagerness, args.max_new_tokens))
            print(f"{mode}: done", file=sys.stderr)
    print("\n".join(table(outcomes)))


if __name__ == "__main__":
    main()

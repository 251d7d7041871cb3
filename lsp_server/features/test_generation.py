"""`workspace/executeCommand` `vetted.generateTests`: unit tests for the function at a position.

https://microsoft.github.io/language-server-protocol/specifications/lsp/3.18/specification/#workspace_executeCommand

The "Generate unit tests" code action (`features/code_action.py`) runs it; so can any
client, with the document's URI and a position inside the function. It generates tests
with the configured model, runs them in the sandbox and writes the ones that pass twice and
add coverage into the project's test file for the module (a `workspace/applyEdit`),
reporting work-done progress that can be cancelled; a cancelled run writes nothing. The
result says what was written, the coverage before and after, the tests left out and why,
and the probable bugs found.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types

from codegen.testgen.generation import (
    TestGenerationError,
    TestGenRequest,
    TestGenResult,
    generate_tests,
)
from codegen.testgen.testfile import top_directories
from lsp_server.convert import GENERATE_TESTS, test_generation_edit, test_report
from lsp_server.documents import document_of
from lsp_server.run_completion import relative_path
from lsp_server.server import CompletionServer
from validators.embedded import WorkspaceTestFiles
from validators.testrun import sandbox_for
from validators.workspace_modules import workspace_imports

logger = logging.getLogger(__name__)



def register(server: CompletionServer) -> None:
    """Register the command."""
    test_files = WorkspaceTestFiles()

    @server.command(GENERATE_TESTS)
    async def generate(ls: CompletionServer, uri: str, position: types.Position) -> dict[str, Any]:
        return await _generate(ls, test_files, uri, position)


async def _generate(
    ls: CompletionServer, test_files: WorkspaceTestFiles, uri: str, position: types.Position
) -> dict[str, Any]:
    backend = ls.service.backend
    if backend is None:
        raise TestGenerationError(f"no model is loaded ({ls.service.state.value})")
    document = document_of(ls.workspace, uri)
    root = ls.workspace.root_path or str(Path(document.path).parent)
    path = relative_path(ls, uri)
    settings = ls.settings.test_generation
    request = TestGenRequest(
        root=root, path=path, text=document.source, line=position.line,
        test_files=test_files.read(root),
        module_files=workspace_imports(root, path, document.source),
        directories=top_directories(root),
        samples=settings.samples, rounds=settings.rounds,
        max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
    )
    cancel = threading.Event()
    token = await _progress(ls, cancel)
    loop = asyncio.get_running_loop()

    def progress(message: str, percent: int) -> None:
        if token is not None:
            report = types.WorkDoneProgressReport(message=message, percentage=percent)
            loop.call_soon_threadsafe(ls.work_done_progress.report, token, report)

    sandbox = await asyncio.to_thread(sandbox_for, None, settings.python)
    try:
        result = await asyncio.to_thread(generate_tests, request, backend, sandbox, cancel,
                                         progress)
    except asyncio.CancelledError:
        cancel.set()
        raise
    finally:
        sandbox.close()
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(
                message="cancelled" if cancel.is_set() else "done"))
    if result is None or cancel.is_set():
        return {"cancelled": True}
    applied = await _apply(ls, root, result)
    ls.notify_user(_summary(result), types.MessageType.Info)
    return {**test_report(result), "applied": applied, "cancelled": False}


async def _progress(ls: CompletionServer, cancel: threading.Event) -> str | None:
    """Start cancellable work-done progress when the client supports it."""
    window = ls.client_capabilities.window
    if window is None or not window.work_done_progress:
        return None
    token = f"vetted-tests-{uuid.uuid4()}"
    try:
        await ls.work_done_progress.create_async(token)
    except Exception:  # noqa: BLE001 - progress is a courtesy
        logger.warning("client refused a progress token", exc_info=True)
        return None
    ls.work_done_progress.begin(
        token, types.WorkDoneProgressBegin(title="vetted: generating tests", cancellable=True)
    )
    future = ls.work_done_progress.tokens.get(token)
    if future is not None:  # the client's window/workDoneProgress/cancel cancels it
        future.add_done_callback(lambda f: cancel.set() if f.cancelled() else None)
    return token


async def _apply(ls: CompletionServer, root: str, result: TestGenResult) -> bool:
    """Send the edit to the client; False when there is nothing to write or it refused."""
    if not result.delivered:
        return False
    workspace = ls.client_capabilities.workspace
    if workspace is None or not workspace.apply_edit:
        return False
    target = Path(root) / result.test_file.path
    open_document = ls.workspace.text_documents.get(target.as_uri())
    text = open_document.source if open_document is not None else result.test_file.text
    edit = test_generation_edit(target.as_uri(), text, result)
    answer = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=edit, label="vetted: generated tests")
    )
    return bool(answer.applied)


def _summary(result: TestGenResult) -> str:
    tests = len(result.delivered)
    message = (
        f"vetted: {tests} test{'s' * (tests != 1)} for {result.function} in "
        f"{result.test_file.path}; coverage {result.before.percent:.0f}% → "
        f"{result.after.percent:.0f}%"
    )
    if result.bugs:
        message += f"; {len(result.bugs)} probable bug(s) in the function, see the report"
    return message

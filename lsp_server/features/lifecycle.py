"""`initialize`, `initialized` and `workspace/didChangeConfiguration`: settings and model loading.

The model loads once, in the background after `initialized`, reporting work-done progress;
requests made before it is ready get an empty result. A failed load is shown once with
`window/showMessage` and the server keeps running.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from pathlib import Path

from lsprotocol import types

from codegen.runtime.backends import RuntimeOptions
from codegen.runtime.model import ModelError
from codegen.runtime.remote import RemoteOptions
from lsp_server.config import parse_settings
from lsp_server.features.status import status_of
from lsp_server.observability import Endpoint, explain
from lsp_server.server import CompletionServer

logger = logging.getLogger(__name__)


def register(server: CompletionServer) -> None:
    """Register the lifecycle handlers."""

    @server.feature(types.INITIALIZE)
    def initialize(ls: CompletionServer, params: types.InitializeParams) -> None:
        apply_settings(ls, params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: CompletionServer, params: types.InitializedParams) -> None:
        encoding = ls.workspace.position_encoding or "utf-16"
        ls.position_encoding = getattr(encoding, "value", str(encoding))
        ls.signals.root = ls.workspace.root_path or ""
        if ls.settings.workspace_index:
            ls.workspace_index.start(ls.workspace.root_path or "", lambda p: open_text(ls, p))
        configure_observability(ls)
        await asyncio.gather(load_model(ls), report_sandbox(ls))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: CompletionServer, params: None) -> None:
        ls.prefetcher.drop_all()
        ls.workspace_index.stop()
        if ls.endpoint is not None:
            ls.endpoint.stop()
        ls.service.close()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: CompletionServer, params: types.DidChangeConfigurationParams
    ) -> None:
        before = ls.settings
        apply_settings(ls, params.settings)
        if ls.settings != before:
            ls.prefetcher.drop_all()
        if ls.settings.observability != before.observability:
            configure_observability(ls)
        if ls.settings.workspace_index != before.workspace_index:
            if ls.settings.workspace_index:
                ls.workspace_index.start(ls.workspace.root_path or "",
                                         lambda p: open_text(ls, p))
            else:
                ls.workspace_index.stop()
        reload = ("model", "device", "dtype", "automatic_model", "speculative", "runtime",
                  "remote")
        if any(getattr(ls.settings, key) != getattr(before, key) for key in reload):
            await load_model(ls)


def configure_observability(ls: CompletionServer) -> None:
    """Start, move or stop the local metrics/status/explain port as the settings say."""
    port = ls.settings.observability.port
    if port == 0:
        if ls.endpoint is not None:
            ls.endpoint.stop()
        return
    if ls.endpoint is None:
        ls.endpoint = Endpoint(
            ls.metrics,
            lambda: status_of(ls),
            lambda: explain(ls.service.last_result, ls.settings.observability.log_prompts),
        )
        ls.metrics.oom.set_function(lambda: float(_out_of_memory(ls)))
    if ls.endpoint.port == port:
        return
    try:
        ls.endpoint.start(port, ls.workspace.root_path or "")
    except OSError as exc:
        ls.notify_user(f"vetted: cannot serve metrics on 127.0.0.1:{port}: {exc}")


def _out_of_memory(ls: CompletionServer) -> int:
    engines = ls.service.runtime_status().get("engines", {}).values()
    return sum(int(engine.get("outOfMemory", 0)) for engine in engines)


def open_text(ls: CompletionServer, relative: str) -> str | None:
    """The unsaved text of an open document, by workspace-relative path."""
    root = ls.workspace.root_path
    if not root:
        return None
    document = ls.workspace.text_documents.get((Path(root) / relative).as_uri())
    return document.source if document is not None else None


def apply_settings(ls: CompletionServer, raw: object) -> None:
    """Merge client settings; report rejected fields once, keeping their previous values."""
    ls.settings, errors = parse_settings(raw, ls.settings)
    if errors:
        ls.notify_user("vetted: ignored invalid settings: " + "; ".join(errors))


async def report_sandbox(ls: CompletionServer) -> None:
    """Tell the user once when the embedded tests cannot run, and why."""
    probes = [getattr(v, "sandbox", None) for v in ls.service.validators]
    sandbox = next((s for s in probes if s is not None), None)
    if sandbox is None or not ls.settings.validators.tests:
        return
    reason = await asyncio.to_thread(sandbox.probe)
    if reason is not None:
        logger.warning("sandbox unavailable: %s", reason)
        ls.notify_user(
            f"vetted: completions are checked without running your tests: {reason}",
            types.MessageType.Warning,
        )


async def load_model(ls: CompletionServer) -> None:
    """Load the configured model in a worker thread, with work-done progress when supported."""
    loop = asyncio.get_running_loop()
    token: str | None = None
    capabilities = ls.client_capabilities
    if capabilities.window is not None and capabilities.window.work_done_progress:
        token = f"vetted-load-{uuid.uuid4()}"
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title="vetted: loading model")
            )
        except Exception:  # noqa: BLE001 - progress is a courtesy; loading goes on without it
            logger.warning("client refused a progress token", exc_info=True)
            token = None

    def progress(message: str) -> None:
        logger.info("%s", message)
        if token is not None:
            report = types.WorkDoneProgressReport(message=message)
            loop.call_soon_threadsafe(ls.work_done_progress.report, token, report)

    settings = ls.settings
    runtime = RuntimeOptions(
        compile=settings.runtime.compile,
        quantize=settings.runtime.quantize,
        slots=settings.runtime.slots,
        prefix_cache_mb=settings.runtime.prefix_cache_mb,
        speculate_tokens=settings.runtime.speculate_tokens,
    )
    try:
        await asyncio.to_thread(
            functools.partial(
                ls.service.load,
                settings.model,
                settings.device,
                progress,
                settings.dtype,
                automatic=settings.automatic_model,
                speculative=settings.speculative,
                runtime=runtime,
                remote=RemoteOptions(settings.remote.api_key, settings.remote.timeout_seconds,
                                     settings.remote.retries),
            )
        )
    except ModelError as exc:
        logger.error("model failed to load: %s", exc)
        ls.notify_user(f"vetted: the model failed to load: {exc}")
    finally:
        if token is not None:
            message = ls.service.description or ls.service.error
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
    if ls.service.description:
        logger.info("model ready: %s", ls.service.description)

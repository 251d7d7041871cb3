"""Choosing a document's adapter: the innermost folder's, checked off the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from codegen.runtime.adapters import AdapterError
from lsp_server.config import Settings
from lsp_server.run_completion import adapter_for


class SlowBackend:
    """Checks an adapter as a large one reads: slowly, and noting the thread."""

    def __init__(self, error: str = "") -> None:
        self.threads: list[threading.Thread] = []
        self.error = error

    def check_adapter(self, path: str) -> None:
        self.threads.append(threading.current_thread())
        time.sleep(0.3)
        if self.error:
            raise AdapterError(self.error)


def server(backend: SlowBackend, adapters: dict[str, str]) -> Any:
    notes: list[str] = []
    return SimpleNamespace(settings=Settings(adapters=adapters), notes=notes,
                           service=SimpleNamespace(backend=backend),
                           notify_once=notes.append)


async def test_the_adapter_is_checked_in_a_worker_thread_while_the_loop_runs(
    tmp_path: Path,
) -> None:
    backend = SlowBackend()
    ls = server(backend, {str(tmp_path / "Shop"): "/adapters/outer",
                          str(tmp_path / "Shop" / "api"): "/adapters/inner"})
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.ensure_future(tick())
    try:
        chosen = await adapter_for(ls, str(tmp_path / "Shop" / "api" / "views.py"))
    finally:
        ticker.cancel()
    assert chosen == "/adapters/inner"
    assert backend.threads and backend.threads[0] is not threading.main_thread()
    assert ticks >= 10, "the event loop stood still while the adapter was read"


async def test_an_adapter_the_model_cannot_serve_is_reported_and_left_out(
    tmp_path: Path,
) -> None:
    backend = SlowBackend(error="/adapters/x: trained for another base model")
    ls = server(backend, {str(tmp_path): "/adapters/x"})
    assert await adapter_for(ls, str(tmp_path / "a.py")) == ""
    assert ls.notes == ["vetted: adapter not used: /adapters/x: trained for another base model"]
    assert await adapter_for(ls, "/elsewhere/b.py") == ""
    assert len(backend.threads) == 1  # no folder holds it: nothing to check

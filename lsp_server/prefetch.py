"""Prefetch after accept: the suggestion that follows the one on screen, ready when it is taken.

When an answer is shown and nothing else runs on the model, the server completes the
document as it will read once the top suggestion is accepted, at the cursor after it. The
request that comes after the accept (editors ask again as soon as the text changes) finds that
document and position here and is answered from memory; a request still on the way to it
(the same place again, or typing into the suggestion) leaves it running; any other request
cancels it, so the model is free for what the user does instead.

The prefetch runs with the type-through memory untouched (`CompletionService.complete`,
``remember=False``): until it is used, the suggestion on screen is what typing continues.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from codegen.types import CompletionRequest, CompletionResult

logger = logging.getLogger(__name__)

Run = Callable[[CompletionRequest, threading.Event], CompletionResult | None]
"""Runs a request to the end (in a worker thread): the service's `complete`, configured."""


@dataclass
class Pending:
    """One prefetch: the request it answers, and its task."""

    origin: CompletionRequest
    """The request whose top suggestion is assumed accepted."""
    insert: str
    """That suggestion."""
    request: CompletionRequest
    """The request expected after the accept."""
    settings: object
    """The settings it was made under: an answer under other settings is not reused."""
    cancel: threading.Event
    task: asyncio.Task[CompletionResult | None]

    def matches(self, request: CompletionRequest, settings: object) -> bool:
        """Whether `request` is the one this prefetch answers."""
        return (request.offset == self.request.offset and request.text == self.request.text
                and settings == self.settings)

    def on_the_way(self, request: CompletionRequest) -> bool:
        """Whether `request` is at the origin, or inside the suggestion typed so far."""
        before = self.origin.text[: self.origin.offset]
        after = self.origin.text[self.origin.offset :]
        text = request.text
        if not text.startswith(before) or not text.endswith(after):
            return False
        typed = text[len(before) : len(text) - len(after)]
        return request.offset == len(before) + len(typed) and self.insert.startswith(typed)


class Prefetcher:
    """At most one prefetch per document."""

    def __init__(self) -> None:
        """Nothing is prefetched until an answer is shown."""
        self._pending: dict[str, Pending] = {}
        self.served = 0
        """Requests answered by a prefetch."""
        self.started = 0

    def claim(
        self, uri: str, request: CompletionRequest, settings: object
    ) -> Pending | None:
        """The prefetch that answers `request`, taken out; others not on its way cancelled."""
        pending = self._pending.get(uri)
        if pending is not None and pending.matches(request, settings):
            del self._pending[uri]
            return pending
        for other_uri, other in list(self._pending.items()):
            if other_uri == uri and other.on_the_way(request):
                continue
            self._drop(other_uri)
        return None

    def start(
        self, uri: str, origin: CompletionRequest, result: CompletionResult, settings: object,
        run: Run,
    ) -> Pending | None:
        """Prefetch what follows accepting `result`'s top suggestion (a pure insertion)."""
        if not result.items or result.cancelled:
            return None
        top = result.items[0]
        if not top.insert.strip():
            return None
        text = origin.text[: origin.offset] + top.insert + origin.text[top.end :]
        request = replace(origin, text=text, offset=origin.offset + len(top.insert),
                          trigger="automatic")
        cancel = threading.Event()
        self._drop(uri)
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(run, request, cancel))
        pending = Pending(origin, top.insert, request, settings, cancel, task)
        self._pending[uri] = pending
        self.started += 1
        task.add_done_callback(lambda t: _report(t, uri))
        return pending

    def drop_all(self) -> None:
        """Cancel every prefetch (settings changed, the model reloads, shutdown)."""
        for uri in list(self._pending):
            self._drop(uri)

    def _drop(self, uri: str) -> None:
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel.set()

    @property
    def running(self) -> int:
        """Prefetches not finished yet."""
        return sum(1 for p in self._pending.values() if not p.task.done())


async def answer(pending: Pending) -> CompletionResult | None:
    """The prefetched result (waiting for it if it is still running); None if it failed.

    The wait is shielded: a cancelled request leaves the prefetch to finish for the next.
    """
    try:
        result = await asyncio.shield(pending.task)
    except asyncio.CancelledError:
        if pending.task.cancelled():
            return None
        raise
    except Exception:  # noqa: BLE001 - the live request runs the model itself instead
        return None
    if result is None or result.cancelled:
        return None
    return result


def _report(task: asyncio.Task[CompletionResult | None], uri: str) -> None:
    """Log a prefetch that failed (the request after the accept then runs the model)."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.warning("prefetch for %s failed: %s", uri, error)

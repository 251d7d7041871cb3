"""CompletionServer and the `create_server` factory that wires features in order."""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from codegen.loaded_model import CompletionService
from codegen.types import CompletionResult
from lsp_server.completion_log import CompletionLog
from lsp_server.config import Settings
from lsp_server.documents import as_line_workspace
from lsp_server.eagerness import Action, Level, level_for
from lsp_server.observability import Endpoint, Metrics
from lsp_server.prefetch import Prefetcher
from lsp_server.signals import Signals
from lsp_server.workspace_index import ServerIndex
from prompts.recent_edits import EditRecorder

logger = logging.getLogger(__name__)

NAME = "vetted"
VERSION = "0.1.0"

_ANSWERED = object()
"""Marks a request already answered with an error while it was being read."""


class CompletionProtocol(LanguageServerProtocol):
    """Answers requests whose params do not deserialize with -32602 instead of never.

    pygls 2.1 raises `JsonRpcInvalidParams` without the request id, so the client would wait
    forever for its answer.
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Deserialize, turning a bad request into an error response."""
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams as exc:
            if "id" in data and "method" in data:
                logger.warning("invalid params for %s (id %s)", data["method"], data["id"])
                self._send_response(data["id"], error=exc.to_response_error())
                return _ANSWERED
            raise

    def handle_message(self, message: Any) -> None:
        """Skip messages already answered by `structure_message`."""
        if message is _ANSWERED:
            return
        super().handle_message(message)

    @property
    def _workspace(self) -> Any:
        """Pygls' workspace, made at `initialize`: its documents count lines as editors do."""
        return self._line_workspace

    @_workspace.setter
    def _workspace(self, workspace: Any) -> None:
        self._line_workspace = as_line_workspace(workspace)


class CompletionServer(LanguageServer):
    """The language server: settings, the model service and nothing protocol-agnostic."""

    def __init__(self, service: CompletionService, settings: Settings) -> None:
        """Create the server around a (not yet loaded) completion service."""
        super().__init__(NAME, VERSION, protocol_cls=CompletionProtocol)
        self.service = service
        self.settings = settings
        self.position_encoding: str = "utf-16"
        self.accepted = 0
        """Suggestions the client reported inserted (`vetted.accepted`)."""
        self._notified: dict[str, float] = {}
        self.workspace_index = ServerIndex()
        """Definitions and imports of the workspace's files, for the prompt's context."""
        self.metrics = Metrics()
        self.recent_latencies: deque[float] = deque(maxlen=20)
        """Seconds of the last inline requests that reached the model."""
        self.endpoint: Endpoint | None = None
        """The observability port's server, when `observability.port` is set."""
        self.completion_log = CompletionLog()
        self._shown = 0
        self._run_id = uuid.uuid4().hex[:12]
        """Makes item ids unique across server runs (the completion log outlives a run)."""
        self.recent_documents: dict[str, None] = {}
        """URIs of open documents, least recently opened or edited first."""
        self.signals = Signals(on_action=self._ended)
        """What became of each suggestion shown; the workspace's score."""
        self.metrics.score.set_function(self.signals.score)
        self.metrics.acceptance.set_function(
            lambda: self.signals.summary()["acceptanceRate"] or 0.0)
        self.prefetcher = Prefetcher()
        """The suggestions that follow accepting the ones on screen."""
        self.in_flight = 0
        """Completion requests running on the model now (prefetches aside)."""
        self.edits = EditRecorder()
        """The last edits of the open documents (`lsp_server.edit_history`)."""

    def _ended(self, action: Action, item_id: str, fraction: float) -> None:
        """A suggestion's fate is known: count it, and log it with its code when asked to."""
        self.metrics.actions.labels(action).inc()
        # An accept is logged by its command (`features/accept.py`), this server's or not.
        if self.settings.training.log_completions and action != "accepted":
            self.completion_log.ended(self.workspace.root_path or "", item_id, action, fraction)

    def level(self) -> Level:
        """How eager automatic suggestions are now (`suggestions.eagerness`, the score)."""
        return level_for(self.settings.suggestions.eagerness, self.signals.score())

    def issue(self, uri: str, result: CompletionResult, ids: list[str], seconds: float) -> None:
        """Open the signals record of an answer the user will see (what is logged: no code)."""
        timings = result.timings
        meta = {
            "latencyMs": round(seconds * 1000, 1),
            "model": self.service.description,
            "promptTokens": timings.prompt_tokens,
            "trigger": result.request.trigger,
            "language": result.request.language,
            "source": timings.source,
            "alternatives": len(result.items),
            "verdicts": [{v.check: v.ok for v in c.verdicts if v.ran} for c in result.items],
        }
        self.signals.issued(uri, result, ids, meta)

    def touch_document(self, uri: str) -> None:
        """Mark a document as the most recently used."""
        self.recent_documents.pop(uri, None)
        self.recent_documents[uri] = None

    def notify_user(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        """Show a message in the editor (`window/showMessage`)."""
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log_shown(self, result: CompletionResult) -> list[str]:
        """Ids for the items of a result (logged when `training.logCompletions` is on)."""
        self._shown += 1
        ids = [f"{self._run_id}:{self._shown}:{index}" for index in range(len(result.items))]
        if self.settings.training.log_completions:
            request = result.request
            for item_id, candidate in zip(ids, result.items, strict=True):
                self.completion_log.shown(self.workspace.root_path or "", item_id, request.path,
                                          request.prefix, request.text[candidate.end :],
                                          candidate.insert)
        return ids

    def notify_once(self, message: str, every_seconds: float = 300.0) -> None:
        """Show an error, but the same one at most once every `every_seconds`."""
        now = time.monotonic()
        if now - self._notified.get(message, -every_seconds) >= every_seconds:
            self._notified[message] = now
            self.notify_user(message)

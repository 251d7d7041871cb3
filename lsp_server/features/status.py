"""`vetted/status` (custom request): what the server is doing.

The user (or a test) sees the model, its loading state, any load error and how many
generations are running right now.
"""

from __future__ import annotations

from typing import Any

from lsp_server.config import to_wire
from lsp_server.server import CompletionServer

STATUS = "vetted/status"


def register(server: CompletionServer) -> None:
    """Register the custom request."""

    @server.feature(STATUS)
    def status(ls: CompletionServer, params: Any) -> dict[str, Any]:
        service = ls.service
        return {
            "state": service.state.value,
            "model": service.description,
            "error": service.error,
            "activeGenerations": service.active_generations,
            "positionEncoding": ls.position_encoding,
            "settings": to_wire(ls.settings),
        }
